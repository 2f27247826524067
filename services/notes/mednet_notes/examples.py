"""The OpenAPI document's examples (each checked against its schema by tests/contract/test_openapi_documents.py;
FastAPI leaves out every null of an example, so a required field is never null here)."""

from __future__ import annotations

from typing import Any

CALL_ID, CASE_ID = "case-b68b:p1", "case-b68b"
OBSERVATIONS = {"concerns": "Worried the supplier relationship ends", "interests": "Keep the contract",
                "underlying_issues": "", "dynamics": "", "rapport": "Open", "settlement_authority": "CFO attends",
                "settlement_range": "", "free_text": ""}
OBJECTIVE = {"issue": "payment_amount", "wants": "Payment of the unpaid invoices", "stance": "wants",
             "amount": {"minimum": 40000, "maximum": 55000}, "priority": 1, "shareable": False}
NOTES = {"observations": {"concerns": "Worried the supplier relationship ends", "rapport": "Open"},
         "objectives": [OBJECTIVE]}
NOTES_VIEW = {"call_id": CALL_ID, "case_id": CASE_ID, "party_id": "p1", "observations": OBSERVATIONS,
              "objectives": [OBJECTIVE]}
BRIEF = {"case_id": CASE_ID, "parties": ["p1", "p2"], "issues": [], "shared_interests": ["future_relationship"],
         "trade_offs": [], "hard_conflicts": ["payment_amount"], "open_issues": [], "agenda": [], "one_sided": [],
         "not_heard": [], "not_ready": [], "stated_interests": []}
PURGED = {"case_id": CASE_ID, "purged_at": "2027-04-01T10:00:00+00:00", "unreadable_notes": 2,
          "deleted_legacy_notes": 0, "deleted_statements": 2, "deleted_documents": 1}
REWRAPPED = {"master_key_id": "m2", "rewrapped": 12}
STATEMENT_TEXT = {"interests": "Keep supplying Dockside", "concerns": "Cash flow",
                  "desired_outcomes": "Payment within 60 days", "questions": ""}
STATEMENT = {**STATEMENT_TEXT, "documents": [{"title": "Unpaid invoices", "kind": "evidence",
                                              "content_base64": "SW52b2ljZSAxMDQyOiA0MiwwMDAgRVVS"}]}
RECEIPT = {"case_id": CASE_ID, "party_id": "p1", "version": 1, "parts": ["interests", "concerns", "desired_outcomes"],
           "documents": [{"document_id": "doc-5c1e", "title": "Unpaid invoices", "kind": "evidence", "size": 24}]}
STATEMENT_VIEW = {**STATEMENT_TEXT, "case_id": CASE_ID, "party_id": "p1", "version": 1, "versions": [1],
                  "received_at": "2027-03-01T12:00:00+00:00",
                  "documents": [{"document_id": "doc-5c1e", "title": "Unpaid invoices", "kind": "evidence",
                                 "size": 24, "download": f"/v1/cases/{CASE_ID}/documents/doc-5c1e"}]}
READINESS = {"case_id": CASE_ID, "party_id": "p1",
             "required_items": ["agreement_signed", "attendees_named", "authority_confirmed"],
             "marks": [{"item": "agreement_signed", "done": True, "set_by": "firm",
                        "set_at": "2027-03-02T09:00:00+00:00"}],
             "outstanding": ["attendees_named", "authority_confirmed"], "ready": False,
             "case_ready_for_session": False}
REQUIRED = {"required_items": ["agreement_signed", "attendees_named"]}
REQUIRED_VIEW = {"case_id": CASE_ID, **REQUIRED, "ready_for_session": False}
OUTCOME = {"outcome": "held", "items_confirmed": ["authority_confirmed"], "next_step": "Send the revised offer",
           "next_step_due": "2027-03-12T17:00:00+01:00", "confidential": "Flexible on timing, not on the amount"}
OUTCOME_RECORDED = {"call_id": CALL_ID, "case_id": CASE_ID, "party_id": "p1", "outcome": "held",
                    "items_confirmed": ["authority_confirmed"], "next_step": "Send the revised offer",
                    "next_step_due": "2027-03-12T16:00:00Z", "items_marked": ["authority_confirmed"],
                    "confidential_sealed": True}
PREPARATION = {"call_id": CALL_ID, "case_id": CASE_ID, "status": "scheduled",
               "party": {"party_id": "p1", "role": "claimant", "firm_id": "harbor-law", "side_status": "confirmed"},
               "statement": STATEMENT_VIEW, "readiness": READINESS,
               "earlier_calls": [{"call_id": "case-b68b:p2", "party_id": "p2", "status": "completed",
                                  "observations": OBSERVATIONS,
                                  "outcome": {"call_id": "case-b68b:p2", "party_id": "p2", "outcome": "held",
                                              "items_confirmed": [], "next_step": "Confirm the CFO attends",
                                              "next_step_due": "2027-03-10T12:00:00Z",
                                              "recorded_at": "2027-03-05T11:00:00+00:00", "confidential": ""}}],
               "objectives": [{"party_id": "p2", "objectives": [{**OBJECTIVE, "stance": "opposes"}]}],
               "other_sides": ["p2 (respondent): confirmed, call completed"]}


def example(value: Any) -> dict[str, Any]:
    """`model_config` keywords that put the example in the model's JSON Schema."""
    return {"json_schema_extra": {"examples": [value]}}

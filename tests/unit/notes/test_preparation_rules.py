"""Issue 18's pure rules in notes: who is still to be heard, a statement's sender and versions, readiness."""

from datetime import UTC, datetime, timedelta

import pytest

from mednet_notes.domain import case as rules
from mednet_notes.domain import readiness, statement
from mednet_notes.domain.case import CaseState, stored_case
from mednet_shared.contracts.events import BriefReady, CaseReadyForSession, StatementReceived
from mednet_shared.contracts.values import Amount, Objective, ReadinessItem, ReceivedDocument

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
WANTS = [Objective(issue="apology", wants="an apology", priority=2)]


def a_case(**extra) -> CaseState:
    return stored_case({"_id": "case-1", "version": 1, "mediator_id": "med-1", "revision": 1,
                        "parties": [{"party_id": "p1", "role": "claimant", "firm_id": "firm-a"},
                                    {"party_id": "p2", "role": "respondent", "firm_id": "firm-b",
                                     "status": "awaiting_confirmation"},
                                    {"party_id": "p3", "role": "other", "firm_id": "firm-c"}], **extra})


def call(party_id: str, status: str = "scheduled") -> rules.CallEntry:
    return rules.CallEntry(call_id=f"case-1:{party_id}", party_id=party_id, status=status)


def test_a_waived_or_declined_side_is_not_waited_for_and_a_final_call_is_not_reopened():
    state, _ = rules.learn_call(a_case(), "case-1:p3", "p3", "med-1", "waived", NOW)
    assert rules.learn_call(state, "case-1:p3", "p3", "med-1", "cancelled", NOW) is None
    declined = state.model_copy(update={"parties": [p.model_copy(update={"status": "declined"})
                                                    if p.party_id == "p2" else p for p in state.parties]})
    assert [n.party_id for n in declined.not_heard()] == ["p2", "p3"]
    recorded, events = rules.record_objectives(declined, call("p1"), WANTS, NOW)
    assert [type(e.message) for e in events] == [rules.ObjectivesRecorded]  # one side heard: no BriefReady
    done, events = rules.learn_completion(recorded, "med-1", ["case-1:p1"], ["case-1:p3"], NOW)
    assert events == [] and done.completed and [p.party_id for p in done.to_be_heard()] == ["p1"]
    assert rules.brief_of(done, "case-1", "med-1").parties == ["p1"]
    assert rules.learn_completion(done, "med-1", ["case-1:p1"], ["case-1:p3"], NOW) is None


def test_objectives_are_stored_and_sent_without_amounts_and_compared_by_their_digest():
    paid = [Objective(issue="payment_amount", wants="money", priority=1, amount=Amount(minimum=5))]
    state, events = rules.record_objectives(a_case(), call("p1"), paid, NOW, "sealed-token", "digest-1")
    assert state.objectives[0].objectives[0].amount is None and events[0].message.objectives[0].amount is None
    assert rules.record_objectives(state, call("p1"), paid, NOW, "other-token", "digest-1") is None
    again, events = rules.record_objectives(state, call("p1"), paid, NOW, "token-2", "digest-2")
    assert again.objectives[0].sealed_terms == "token-2" and len(events) == 1
    with pytest.raises(ValueError):
        rules.with_terms(paid, [])


def test_only_the_sides_confirmed_firm_may_send_its_statement_and_each_cause_is_one_version():
    state = a_case()
    assert statement.submission_refusals(state, "firm-a", "case-1", "p1") == []
    assert "no side p1 of firm firm-b" in statement.submission_refusals(state, "firm-b", "case-1", "p1")[0].message
    assert "not confirmed" in statement.submission_refusals(state, "firm-b", "case-1", "p2")[0].message
    assert statement.submission_refusals(None, "firm-a", "case-1", "p1")[0].field == "party_id"
    document = ReceivedDocument(document_id="d1", title="Ledger", kind="evidence", size=3)
    first, events = statement.record_statement(state, "p1", "cause-1", ["interests"], [document], NOW)
    assert statement.record_statement(first, "p1", "cause-1", ["interests"], [document], NOW) is None
    second, _ = statement.record_statement(first, "p1", "cause-2", [], [], NOW)
    [receipt] = [e.message for e in events]
    assert isinstance(receipt, StatementReceived) and receipt.side_firm_id == "firm-a"
    assert statement.latest_statement(second, "p1").version == 2
    assert statement.document_entry(second, "d1")[0].version == 1


def test_readiness_by_the_right_hands_until_the_session_and_ready_once():
    state = a_case(session_start=(NOW + timedelta(days=5)).isoformat(), required_items=["agreement_signed"])
    with pytest.raises(readiness.ReadinessRefused) as other:
        readiness.ensure_may_mark(state, "case-1", "p1", ReadinessItem.AGREEMENT_SIGNED, "firm-b", None, NOW)
    assert other.value.status == 404
    with pytest.raises(readiness.ReadinessRefused) as mediator_only:
        readiness.ensure_may_mark(state, "case-1", "p1", ReadinessItem.AUTHORITY_CONFIRMED, "firm-a", None, NOW)
    assert mediator_only.value.status == 403
    with pytest.raises(readiness.ReadinessRefused) as late:
        readiness.ensure_may_mark(state, "case-1", "p1", ReadinessItem.AGREEMENT_SIGNED, None, "med-1",
                                  NOW + timedelta(days=5))
    assert late.value.status == 409
    events = []
    for party_id in ("p1", "p2", "p3"):
        state, emitted = readiness.mark(state, party_id, ReadinessItem.AGREEMENT_SIGNED, True, "mediator",
                                        f"c-{party_id}", NOW)
        events += emitted
    assert [type(e.message).__name__ for e in events][-1] == "CaseReadyForSession" and state.ready_for_session
    assert sum(isinstance(e.message, CaseReadyForSession) for e in events) == 1
    assert readiness.mark(state, "p1", ReadinessItem.AGREEMENT_SIGNED, True, "mediator", "c-again", NOW) is None
    assert not any(isinstance(e.message, BriefReady) for e in events)

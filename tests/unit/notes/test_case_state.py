"""Notes' case state: documents of the first shape read as CaseState; the rules decide without I/O."""

from datetime import UTC, datetime

from mednet_notes.domain import case as rules
from mednet_notes.domain.case import CaseState, case_document, stored_case
from mednet_shared.contracts.events import BriefReady, ObjectivesRecorded
from mednet_shared.contracts.values import Objective

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
WANTS = {"issue": "apology", "wants": "an apology", "priority": 2}


def test_a_document_of_the_first_shape_reads_as_the_case_state():
    first = {"_id": "case-1", "version": 4, "mediator_id": "med-1", "revision": 2, "brief_ready": False,
             "parties": [{"party_id": "p1", "role": "claimant", "firm_id": "firm-a"},
                         {"party_id": "p2", "role": "respondent"}],
             "calls": [{"call_id": "case-1:p1", "party_id": "p1", "status": "scheduled"}],
             "objectives": [{"party_id": "p1", "objectives": [WANTS]}], "updated_at": NOW}
    state = stored_case(first)
    assert state.case_id == "case-1" and state.version == 4 and state.party("p2").firm_id is None
    assert state.call("case-1:p1").status == "scheduled" and state.objectives_of("p1")[0].wants == "an apology"
    assert stored_case(case_document(state)) == state and case_document(state)["schema"] == 2
    assert stored_case({"_id": "case-2", "version": 0}) == CaseState(case_id="case-2")


def test_objectives_are_recorded_once_and_the_last_of_them_readies_the_brief():
    state = stored_case({"_id": "case-1", "version": 1, "mediator_id": "med-1", "revision": 1,
                         "parties": [{"party_id": "p1", "role": "claimant", "firm_id": "firm-a"},
                                     {"party_id": "p2", "role": "respondent"}]})
    wants = [Objective.model_validate(WANTS)]
    first, events = rules.record_objectives(state, rules.CallEntry(call_id="case-1:p1", party_id="p1",
                                                                   status="scheduled"), wants, NOW)
    assert [type(e.message) for e in events] == [ObjectivesRecorded] and events[0].message.party_firm_id == "firm-a"
    assert rules.record_objectives(first, first.call("case-1:p1") or rules.CallEntry(
        call_id="case-1:p1", party_id="p1", status="scheduled"), wants, NOW) is None
    second, events = rules.record_objectives(first, rules.CallEntry(call_id="case-1:p2", party_id="p2",
                                                                    status="scheduled"), wants, NOW)
    assert [type(e.message) for e in events] == [ObjectivesRecorded, BriefReady] and second.brief_ready
    again, events = rules.learn_case(second, "med-1", 2, [], NOW)
    assert events == [] and again.parties == []

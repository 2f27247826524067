"""Documents stored before scheduling had its own state models (schema 1) read as the current state, and are
written back in the current shape."""

import asyncio

from mednet_scheduling.domain.state import SCHEMA, CalendarState, CallStatus, CaseState
from mednet_scheduling.memory_store import MemorySchedulingStore

from .factories import utc

MEDIATOR = {"mediator_id": "med-1", "name": "Mia", "email": "mia@example.org", "time_zone": "Europe/London",
            "working_hours": [{"day": "mon", "start": "09:00:00", "end": "17:00:00"}], "buffer_minutes": 15}
PARTY = {"party_id": "p1", "role": "claimant", "contact": {"name": "Pat", "email": "pat@example.org"},
         "time_zone": "Europe/London", "availability": [{"day": "mon", "start": "09:00:00", "end": "17:00:00"}]}
OLD_CASE = {
    "_id": "case-1", "version": 3, "revision": 2, "status": "open", "completed": False,
    "case": {"case_id": "case-1", "firm_id": "firm-1", "external_ref": "ref-1", "title": "A dispute",
             "mediator": MEDIATOR, "parties": [PARTY, {**PARTY, "party_id": "p2"}],
             "session": {"start": "2026-02-02T14:00:00Z", "end": "2026-02-02T18:00:00Z", "time_zone": "UTC"},
             "policy": {"call_minutes": 45, "minimum_notice_hours": 24, "preparation_lead_hours": 24},
             "participant_firms": ["firm-1"]},
    "calls": [{"party_id": "p1", "call_id": "case-1:p1", "status": "scheduled", "start": utc(2026, 1, 19, 9),
               "end": utc(2026, 1, 19, 9, 45), "sequence": 0, "missed_count": 0},
              {"party_id": "p2", "call_id": "case-1:p2", "status": "failed", "reason": "no slot"}],
    "updated_at": utc(2026, 1, 12),
}
OLD_CALENDAR = {
    "_id": "med-1", "version": 7, "updated_at": utc(2026, 1, 12),
    "calls": [{"call_id": "case-1:p1", "case_id": "case-1", "party_id": "p1", "start": utc(2026, 1, 19, 9),
               "end": utc(2026, 1, 19, 9, 45), "sequence": 0, "missed_count": 0, "cause": "evt-1"}],
    "availability": {"weekly": None, "date_overrides": {"2026-01-20": [["10:00:00", "12:00:00"]]},
                     "blackout_days": ["2026-01-21"]},
}


def test_an_old_case_document_reads_as_the_current_state():
    state = CaseState.model_validate(OLD_CASE)
    assert (state.case_id, state.version, state.revision) == ("case-1", 3, 2)
    assert state.facts.mediator.mediator_id == "med-1" and [p.party_id for p in state.facts.parties] == ["p1", "p2"]
    assert state.calls["p1"].status is CallStatus.SCHEDULED and state.calls["p1"].start == utc(2026, 1, 19, 9)
    assert state.calls["p2"].reason == "no slot"
    document = state.document()
    assert document["schema"] == SCHEMA and "case" not in document and "external_ref" not in document["facts"]
    assert CaseState.model_validate({"_id": "case-1", "version": 4, **document}) == state.model_copy(
        update={"version": 4})


def test_an_old_calendar_document_reads_as_the_current_state():
    calendar = CalendarState.model_validate(OLD_CALENDAR)
    assert calendar.mediator_id == "med-1" and calendar.version == 7
    assert calendar.calls["case-1:p1"].cause == "evt-1"
    assert calendar.availability.blackout_days == {utc(2026, 1, 21).date()}
    assert len(calendar.calendar()) == 1
    again = CalendarState.model_validate({"_id": "med-1", "version": 7, **calendar.document()})
    assert again == calendar


def test_an_old_case_is_written_back_in_the_current_shape():
    store = MemorySchedulingStore()
    store.documents["cases"]["case-1"] = dict(OLD_CASE)

    async def rewrite():
        state = await store.case("case-1")
        await store.save_case(state)
        return store.documents["cases"]["case-1"]

    stored = asyncio.run(rewrite())
    assert stored["schema"] == SCHEMA and "case" not in stored and stored["version"] == 4
    assert stored["facts"]["case_id"] == "case-1"

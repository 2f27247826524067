"""On the real MongoDB-wire server: a case and a calendar stored in schema 1 (before scheduling had its own state
models) are read by the MongoDB adapter, and the next write leaves the document in the current shape only."""

import copy
from datetime import timedelta

from mednet_scheduling.domain import calls
from mednet_scheduling.domain.state import SCHEMA
from mednet_scheduling.store import CALENDARS, CASES, MongoSchedulingStore


class Relay:
    def __init__(self) -> None:
        self.woken = []

    def wake(self, collection, document_id, pending=None) -> None:
        self.woken.append((collection, document_id, len(pending or [])))


async def test_old_documents_are_read_and_rewritten_in_the_current_shape(db):
    from unit.scheduling.test_state_migration import OLD_CALENDAR, OLD_CASE

    await db[CASES].insert_one(copy.deepcopy(OLD_CASE))
    await db[CALENDARS].insert_one(copy.deepcopy(OLD_CALENDAR))
    relay = Relay()
    store = MongoSchedulingStore(db, relay)

    state = await store.case("case-1")
    assert state.facts.firm_id == "firm-1" and state.calls["p1"].start == OLD_CASE["calls"][0]["start"]
    done, messages = calls.complete(state, "p1", state.calls["p1"].end + timedelta(minutes=5))
    await store.save_case(done)
    stored = await db[CASES].find_one({"_id": "case-1"})
    assert stored["schema"] == SCHEMA and "case" not in stored and stored["version"] == 4
    assert (await store.case("case-1")).calls["p1"].status == "completed"

    calendar = await store.calendar("med-1")
    assert calendar.version == 7 and calendar.calls["case-1:p1"].cause == "evt-1"
    await store.save_calendar(calendar)
    assert (await store.calendar("med-1")).model_copy(update={"version": 7}) == calendar
    assert (await db[CALENDARS].find_one({"_id": "med-1"}))["schema"] == SCHEMA
    assert relay.woken == []

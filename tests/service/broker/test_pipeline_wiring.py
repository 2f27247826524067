"""Scheduling's, notes' and notify's app.py on the in-memory test broker: what intake publishes reaches scheduling's
handlers; what scheduling publishes reaches notes' and notify's; a firm's command reaches scheduling's."""

from datetime import UTC, datetime

from mednet_notes.memory import MemoryNotesStore
from mednet_notify.memory import MemoryStore
from mednet_scheduling.memory_store import MemorySchedulingStore
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CaseOpened, ChooseCallSlot, RequestReschedule
from mednet_shared.contracts.topics import Topics
from sample_cases import submission

FIRM = "firm-main"
CALLS = {"mednet.CallScheduled.v1", "mednet.CallSlotsOffered.v1"}


def case_opened(ref: str) -> CaseOpened:
    """The submitting firm represents both parties: both sides confirmed at once."""
    document = submission(ref, represented_by=FIRM)
    return CaseOpened(case_id=f"case-{ref}", firm_id=FIRM, participant_firms=[FIRM], **document)


def from_intake(message):
    return new_event(message, "/mednet/intake", firm_id=FIRM)


async def scheduled(wire, ref: str) -> tuple[CaseOpened, MemorySchedulingStore]:
    """Scheduling offers each side its slots; the firm chooses the first of each on its inbound topic."""
    opened, store = case_opened(ref), MemorySchedulingStore()
    async with wire("scheduling", store) as wired:
        await wired.publish(from_intake(opened), Topics.INTAKE)
        for offer in store.events("CallSlotsOffered"):
            choice = ChooseCallSlot(case_id=opened.case_id, party_id=offer.data["party_id"],
                                    offer_id=offer.data["offer_id"], slot_id=offer.data["slots"][0]["slot_id"])
            await wired.publish(new_event(choice, f"/firms/{FIRM}", firm_id=FIRM), Topics.firm_inbound(FIRM))
    assert sorted(e.data["party_id"] for e in store.events("CallScheduled")) == ["p1", "p2"]
    return opened, store


async def test_a_case_opened_on_intakes_topic_reaches_scheduling_which_offers_each_side_and_books_its_choice(wire):
    opened, store = await scheduled(wire, "b-1")
    for kind in CALLS:
        assert sorted(event.data["party_id"] for event in store.events() if event.type == kind) == ["p1", "p2"]
    assert {event.data["case_id"] for event in store.events() if event.type in CALLS} == {opened.case_id}


async def test_a_firms_command_on_its_inbound_topic_reaches_scheduling_and_another_firms_is_refused(wire):
    opened, store = case_opened("b-2"), MemorySchedulingStore()
    stranger = "firm-stranger"
    command = RequestReschedule(case_id=opened.case_id, party_id="p1", not_before=datetime.now(UTC))
    async with wire("scheduling", store) as wired:
        await wired.publish(from_intake(opened), Topics.INTAKE)
        before = len(store.events())
        await wired.publish(new_event(command, f"/firms/{stranger}", firm_id=stranger),
                            Topics.firm_inbound(stranger))
    [rejected] = store.events("CommandRejected")
    assert rejected.data["firm_id"] == stranger and len(store.events()) == before + 1


async def test_schedulings_events_reach_notes_and_notify(wire):
    opened, scheduling = await scheduled(wire, "b-3")
    notes, notify = MemoryNotesStore(), MemoryStore()
    async with wire("notes", notes) as wired:
        await wired.publish(from_intake(opened), Topics.INTAKE)
        for event in scheduling.events():
            await wired.publish(event, Topics.SCHEDULING)
    calls = {event.data["call_id"] for event in scheduling.events("CallScheduled")}
    assert len(calls) == 2
    assert {call["call_id"] for call in notes.cases.get(opened.case_id)["calls"]} == calls
    async with wire("notify", notify) as wired:
        await wired.publish(from_intake(opened), Topics.INTAKE)
        for event in scheduling.events():
            await wired.publish(event, Topics.SCHEDULING)
    assert opened.case_id in notify.cases
    assert any(job.get("case_id") == opened.case_id for job in notify.jobs.values()), "alerts of the calls"

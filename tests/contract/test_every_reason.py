"""Every reason at once: a firm's command that breaks several rules is answered with all of them, the schema's and
the domain's together (CaseRejected for a submission, CommandRejected for any other command), never only the first
kind found. Each command here breaks three rules; before, each answer listed one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mednet_intake.handlers import FirmCommands
from mednet_intake.memory import MemoryCaseStore
from mednet_intake.usecases import Intake
from mednet_scheduling.handlers import SchedulingHandlers
from mednet_scheduling.links import Links
from mednet_scheduling.memory_store import MemorySchedulingStore
from mednet_scheduling.usecases import Scheduler
from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.events import (
    CallSlotsOffered,
    CaseOpened,
    CaseRejected,
    ChooseCallSlot,
    CommandRejected,
    DeclineCallSlots,
    SubmitCase,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Side
from mednet_shared.platform.cas import CasPolicy
from mednet_shared.platform.consumer import EventConsumer, Incoming
from mednet_shared.platform.keyset import KeySet
from sample_cases import DELETE, submission, variant

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
SUBMITTER = "firm-main"


def sent(firm: str, command_type: str, data: dict, event_id: str) -> tuple[CloudEvent, str]:
    return (CloudEvent(id=event_id, type=command_type, source=f"/firms/{firm}", subject="x", time=NOW, data=data),
            Topics.firm_inbound(firm))


async def delivered(event: CloudEvent, topic: str, handler, on_invalid) -> None:
    """As the consumer routes it: a payload that fails its schema goes to on_invalid, else to the handler."""
    await EventConsumer._handle(event, handler, on_invalid, topic, 0, 0)


def fields(reasons) -> set[str]:
    return {reason.field for reason in reasons}


async def test_a_submission_breaking_the_schema_and_two_rules_lists_all_three():
    store = MemoryCaseStore()
    commands = FirmCommands(Intake(store, clock=lambda: NOW))
    document = variant(submission("ref-3", now=NOW), "title", DELETE)                          # the schema
    document = variant(document, "session.start", (NOW - timedelta(days=1)).isoformat())      # a rule: the past
    document = variant(document, "session.end", (NOW - timedelta(hours=20)).isoformat())
    document = variant(document, "parties.1.party_id", "p1")                                   # a rule: twice p1
    event, topic = sent(SUBMITTER, SubmitCase.type_name(), document, "cmd-three")
    await delivered(event, topic, commands.submit_case, commands.invalid_submission)
    [rejected] = store.outbox.messages(CaseRejected)
    assert fields(rejected.reasons) == {"title", "session.start", "parties.1.party_id"}, rejected.reasons
    assert rejected.case_id is None and rejected.external_ref == "ref-3"


async def test_a_valid_submission_breaking_rules_lists_each_of_them():
    store = MemoryCaseStore()
    commands = FirmCommands(Intake(store, clock=lambda: NOW))
    document = variant(submission("ref-4", now=NOW), "session.start", (NOW - timedelta(days=1)).isoformat())
    document = variant(document, "session.end", (NOW - timedelta(hours=20)).isoformat())
    document = variant(document, "parties.1.party_id", "p1")
    document = variant(document, "mediator.working_hours.0.end", "06:00")
    event, topic = sent(SUBMITTER, SubmitCase.type_name(), document, "cmd-rules")
    await delivered(event, topic, commands.submit_case, commands.invalid_submission)
    [rejected] = store.outbox.messages(CaseRejected)
    assert fields(rejected.reasons) == {"session.start", "parties.1.party_id", "mediator.working_hours.0.end"}


class Scheduling:
    def __init__(self) -> None:
        self.now = NOW
        self.store = MemorySchedulingStore()
        keys = KeySet.secrets('{"l1": "a-test-link-key-of-at-least-32-characters"}', "l1", "LINK_KEYS")
        self.handlers = SchedulingHandlers(Scheduler(self.store, lambda: self.now, CasPolicy(attempts=3,
                                           backoff_seconds=0, backoff_max_seconds=0),
                                           links=Links(keys, "https://scheduling.test")))

    async def opened(self) -> CallSlotsOffered:
        document = submission("ref-1", mediator_id="med-ada", now=NOW)
        case = CaseOpened(case_id="case-ref-1", firm_id=SUBMITTER, participant_firms=[SUBMITTER], **document)
        sides = [Side(party_id=p.party_id, role=p.role, firm_id=p.attorney.firm_id, status="confirmed", since=NOW)
                 for p in case.parties]
        case = case.model_copy(update={"sides": sides, "participant_firms": [SUBMITTER, *(s.firm_id for s in sides)]})
        event = new_event(case, "/mednet/intake", firm_id=SUBMITTER)
        await self.handlers.case_opened(Incoming(event, case, Topics.INTAKE, 0, 0))
        return next(e.payload() for e in self.store.events("CallSlotsOffered") if e.payload().party_id == "p1")

    def rejections(self) -> list[CommandRejected]:
        return [event.payload() for event in self.store.events("CommandRejected")]


async def test_a_choice_breaking_the_schema_and_two_offer_rules_lists_all_three():
    world = Scheduling()
    offer = await world.opened()
    world.now = offer.expires_at + timedelta(minutes=1)                                   # a rule: expired
    data = {"case_id": offer.case_id, "party_id": "p1", "offer_id": offer.offer_id,
            "slot_id": "no-such-slot",                                                    # a rule: not offered
            "note": "the schema has no such field"}                                       # the schema
    event, topic = sent(offer.side_firm_id, ChooseCallSlot.type_name(), data, "choose-three")
    handle = world.handlers.choose_or_decline_slots
    await delivered(event, topic, handle, world.handlers.invalid_command)
    [rejected] = world.rejections()
    assert fields(rejected.reasons) == {"note", "offer_id", "slot_id"}, rejected.reasons
    assert not world.store.events("CallScheduled")


async def test_a_decline_from_a_stranger_with_a_bad_field_hears_only_what_a_stranger_may():
    """The rules of an offer are checked only for the side's own firm: a stranger learns nothing of the offer."""
    world = Scheduling()
    offer = await world.opened()
    data = {"case_id": offer.case_id, "party_id": "p1", "offer_id": offer.offer_id, "proposals": "not a list"}
    event, topic = sent("firm-z", DeclineCallSlots.type_name(), data, "decline-stranger")
    await delivered(event, topic, world.handlers.choose_or_decline_slots, world.handlers.invalid_command)
    [rejected] = world.rejections()
    assert fields(rejected.reasons) == {"proposals", "case_id"}, rejected.reasons
    assert offer.offer_id not in str(rejected.reasons)


async def test_an_acceptance_breaking_the_schema_and_two_rules_lists_all_three():
    """Dead-lettered for its schema (intake's commands other than SubmitCase are), and answered with every reason."""
    from mednet_shared.contracts.envelope import EnvelopeError
    from mednet_shared.contracts.events import AcceptRepresentation

    store = MemoryCaseStore()
    commands = FirmCommands(Intake(store, clock=lambda: NOW))
    submitted, topic = sent(SUBMITTER, SubmitCase.type_name(), submission("ref-5", now=NOW), "submit-5")
    await delivered(submitted, topic, commands.submit_case, commands.invalid_submission)
    [opened] = store.outbox.messages(CaseOpened)
    named = opened.parties[1].attorney.firm_id
    data = {"case_id": opened.case_id, "party_id": "p2", "typo": 1,                                 # the schema
            "attorney": {"firm_id": "firm-other", "name": "A", "email": "a@example.org"},        # a rule: its firm
            "availability": [{"day": "mon", "start": "10:00", "end": "09:00"}]}                  # a rule: a window
    event, topic = sent(named, AcceptRepresentation.type_name(), data, "accept-three")
    try:
        event.payload()
    except EnvelopeError as error:
        await commands.dead_lettered(event, b"", error, topic + ".dlq", topic, record="0@9")
    [rejected] = store.outbox.messages(CommandRejected)
    assert fields(rejected.reasons) == {"typo", "attorney.firm_id", "availability.0.end"}, rejected.reasons
    assert rejected.dead_letter_topic == topic + ".dlq"

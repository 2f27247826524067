"""A firm's command that scheduling dead-letters (it failed every attempt) is answered to that firm in plain words;
a record that is no envelope, or one of a topic that is no firm's, is not scheduling's to answer."""

from datetime import UTC, datetime

from mednet_scheduling.handlers import SchedulingHandlers
from mednet_scheduling.links import Links
from mednet_scheduling.memory_store import MemorySchedulingStore
from mednet_scheduling.usecases import Scheduler
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.events import ChooseCallSlot
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.keyset import KeySet

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


async def test_a_command_scheduling_dead_lettered_is_answered_to_its_firm_without_the_failures_text():
    store = MemorySchedulingStore()
    keys = KeySet.secrets('{"l1": "a-test-link-key-of-at-least-32-characters"}', "l1", "LINK_KEYS")
    handlers = SchedulingHandlers(Scheduler(store, lambda: NOW, links=Links(keys, "https://scheduling.test")))
    inbound = Topics.firm_inbound("firm-a")
    command = CloudEvent(id="choose-1", type=ChooseCallSlot.type_name(), source="/firms/a", subject="case-1",
                         time=NOW, data={"case_id": "case-1", "party_id": "p1", "offer_id": "o", "slot_id": "s"})
    failure = RuntimeError("duplicate key {'email': 'p2@firm-b.example'}")
    await handlers.dead_lettered(command, b"", failure, Topics.dead_letter(inbound), inbound, record="0@5")
    await handlers.dead_lettered(None, b"garbage", failure, Topics.dead_letter(inbound), inbound, record="0@6")
    await handlers.dead_lettered(command, b"", failure, "mednet.intake.events.dlq", Topics.INTAKE, record="1@1")
    [answer] = store.events("CommandRejected")
    rejected = answer.payload()
    assert (rejected.firm_id, rejected.command_id, rejected.case_id) == ("firm-a", "choose-1", "case-1")
    assert rejected.dead_letter_topic == Topics.dead_letter(inbound) and answer.subject == "case-1"
    assert "firm-b" not in answer.model_dump_json() and "dead-lettered" in rejected.reasons[0].message
    assert (answer.correlationid, answer.causationid) == ("choose-1", "choose-1")

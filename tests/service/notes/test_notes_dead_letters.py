"""A firm's SubmitStatement that notes dead-letters (it failed every attempt) is answered to that firm in plain
words, never with the failure's text; a record that is no envelope, or one of a topic that is no firm's, is not
notes' to answer."""

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.events import CommandRejected, SubmitStatement
from mednet_shared.contracts.topics import Topics

from notes_kit import NOW, World


async def test_a_statement_notes_dead_lettered_is_answered_to_its_firm_without_the_failures_text():
    world = World()
    inbound = Topics.firm_inbound("firm-a")
    command = CloudEvent(id="statement-1", type=SubmitStatement.type_name(), source="/firms/a", subject="case-1",
                         time=NOW, data={"case_id": "case-1", "party_id": "p1", "text": "what we want"})
    failure = RuntimeError("duplicate key {'email': 'p2@firm-b.example'}")
    dead_letters = Topics.dead_letter(inbound)
    await world.handlers.dead_lettered(command, b"", failure, dead_letters, inbound, record="0@5")
    await world.handlers.dead_lettered(command, b"", failure, dead_letters, inbound, record="0@5")
    await world.handlers.dead_lettered(None, b"garbage", failure, dead_letters, inbound, record="0@6")
    await world.handlers.dead_lettered(command, b"", failure, "mednet.intake.events.dlq", Topics.INTAKE, record="1@1")

    [answer] = world.store.outbox.events(CommandRejected)
    rejected = answer.payload()
    assert (rejected.firm_id, rejected.command_id, rejected.case_id) == ("firm-a", "statement-1", "case-1")
    assert rejected.dead_letter_topic == dead_letters and "dead-lettered" in rejected.reasons[0].message
    assert "firm-b" not in answer.model_dump_json()

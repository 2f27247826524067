"""Intake's app.py on the in-memory test broker: a firm's inbound topic reaches its command handlers."""

from mednet_intake.domain import case_id_for
from mednet_intake.memory import MemoryCaseStore
from mednet_shared.contracts.events import CaseOpened, CaseRejected
from mednet_shared.contracts.topics import Topics
from sample_cases import submission

from mednet_cli.samples import submit_case

FIRM = "firm-a"


async def test_a_submission_on_a_firms_inbound_topic_opens_a_case_of_that_firm(wire):
    store = MemoryCaseStore()
    async with wire("intake", store) as wired:
        await wired.publish(submit_case(FIRM, submission("ref-1")), Topics.firm_inbound(FIRM))
    [opened] = store.outbox.messages(CaseOpened)
    assert (opened.case_id, opened.firm_id) == (case_id_for(FIRM, "ref-1"), FIRM)


async def test_an_invalid_submission_is_answered_and_a_record_that_is_no_event_dead_lettered(wire):
    store, inbound = MemoryCaseStore(), Topics.firm_inbound(FIRM)
    async with wire("intake", store, dead_letter_topics=(Topics.dead_letter(inbound),)) as wired:
        await wired.publish(submit_case(FIRM, submission("ref-2") | {"parties": []}), inbound)
        await wired.publish_raw(b"\x00 not json", inbound)
    assert [m.external_ref for m in store.outbox.messages(CaseRejected)] == ["ref-2"]
    assert [topic for topic, _ in wired.dead_letters] == [Topics.dead_letter(inbound)]
    assert store.outbox.messages(CaseOpened) == []


async def test_a_topic_outside_the_inbound_pattern_reaches_no_handler(wire):
    store = MemoryCaseStore()
    async with wire("intake", store) as wired:
        await wired.publish(submit_case(FIRM, submission("ref-3")), "mednet.firm.firm-a.outbound")
    assert store.outbox.records == []

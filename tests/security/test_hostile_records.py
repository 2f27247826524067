"""Records on a firm's own inbound topic that no consumer can turn into an envelope (a number past the interpreter's
int conversion, nesting past the recursion limit, too many bytes, headers too big to dead-letter with) are
dead-lettered at once with their reason, once, with a bounded log, while another firm's valid case opens. A dead
letter too big for the broker goes without the original headers (or with an excerpt of the value)."""

import json
import logging
import uuid
from datetime import UTC, datetime

from kafka_helpers import as_record, command, events_of, new_topic, produce, read, wait_for
from mednet_intake.domain import case_id_for
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from sample_cases import submission
from services_harness import services


def envelope_text(data_json: str) -> bytes:
    head = json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "type": "mednet.SubmitCase.v1",
                       "source": "/attacker", "subject": "x", "time": datetime.now(UTC).isoformat()})
    return (head[:-1] + ', "data": ' + data_json + "}").encode()


HEADERS_TOO_BIG = [(f"h{n}", b"v" * 104_000) for n in range(10)]  # the record fits in Kafka; its dead letter would not

POISON = {  # name: (value, headers, reason, the error type the dead letter names)
    "huge int": (envelope_text('{"title": ' + "7" * 5000 + "}"), [], "unparseable", "ValueError"),
    "deep nesting": (envelope_text("{\"title\": " + "[" * 100_000 + "]" * 100_000 + "}"), [], "unparseable",
                     "RecursionError"),
    "oversized": (envelope_text(json.dumps({"title": "x" * 300_000})), [], "too-large", "RecordTooLarge"),
    "headers too big": (envelope_text('{"title": ' + "7" * 5000 + "}"), HEADERS_TOO_BIG, "too-large",
                        "RecordTooLarge"),
    "too big to dead-letter whole": (b"x" * 1_048_450, [], "too-large", "RecordTooLarge"),  # with headers: over 1 MiB
}
EXCERPT = 64 * 1024


async def test_poison_records_are_dead_lettered_at_once_and_another_firms_case_still_opens(
        infrastructure, kafka, unique, caplog):
    caplog.set_level(logging.INFO)
    firm_a, firm_b = f"a-{unique}", f"b-{unique}"
    inbound_a = await new_topic(kafka, Topics.firm_inbound(firm_a))
    inbound_b = await new_topic(kafka, Topics.firm_inbound(firm_b))
    async with services(infrastructure, unique, "intake", "scheduling"):
        await produce(kafka, inbound_a, [(b"k", value, headers) for value, headers, *_ in POISON.values()])
        valid = submission(f"valid-{unique}", mediator_id=f"med-{unique}", represented_by=firm_b)
        await produce(kafka, inbound_b, [as_record(command(valid))])

        case_id = case_id_for(firm_b, valid["external_ref"])
        await events_of(kafka, Topics.INTAKE, case_id, "CaseOpened", 1, timeout=20)
        await events_of(kafka, Topics.SCHEDULING, case_id, "CallSlotsOffered", 2, timeout=20)

        dead = await read(kafka, Topics.dead_letter(inbound_a), len(POISON) + 1, timeout=5)
        assert len(dead) == len(POISON), "each poison record is dead-lettered exactly once"
        for (offset, (name, (value, headers, reason, error))), letter in zip(
                enumerate(POISON.items()), sorted(dead, key=lambda r: int(dict(r.headers)["x-mednet-dlq-offset"])),
                strict=True):
            meta = dict(letter.headers)
            assert meta["x-mednet-dlq-offset"] == str(offset).encode(), name
            assert meta["x-mednet-dlq-reason"] == reason.encode(), name
            assert error.encode() in meta["x-mednet-dlq-error"], (name, meta["x-mednet-dlq-error"][:200])
            assert len(meta["x-mednet-dlq-error"]) <= 2000, name
            if len(value) < 1_000_000:
                assert letter.value == value, f"{name}: the dead letter carries the original record"
            else:
                assert letter.value == value[:EXCERPT], f"{name}: refused whole, the dead letter carries an excerpt"
                assert meta["x-mednet-dlq-value-bytes"] == str(len(value)).encode()
            if headers:
                assert meta["x-mednet-dlq-headers-dropped"] == str(len(headers)).encode(), name

    retried = [r for r in caplog.records if r.exc_info or "redelivering" in r.getMessage()]
    assert not retried, f"the poison was retried: {retried[0].getMessage()[:300]}"
    about_a = [r.getMessage() for r in caplog.records if r.name == "mednet.consumer" and inbound_a in r.getMessage()]
    assert len(about_a) <= 2 * len(POISON), about_a
    assert sum(len(r.getMessage()) for r in caplog.records) < 100_000, "the log written for the poison is bounded"


async def test_a_submission_with_text_that_is_no_unicode_gets_its_rejection_at_once(infrastructure, kafka, unique):
    firm = f"s-{unique}"
    inbound = await new_topic(kafka, Topics.firm_inbound(firm))
    async with services(infrastructure, unique, "intake"):
        event_id = str(uuid.uuid4())
        value = envelope_text(r'{"external_ref": "ref-\ud800", "title": "\udfff", "\udc00": 1}').replace(
            b'"id": "', b'"id": "' + event_id.encode() + b'", "x": "', 1)
        await produce(kafka, inbound, [(b"k", value, [])])

        async def rejected() -> list[CloudEvent]:
            events = [CloudEvent.from_bytes(r.value) for r in await read(kafka, Topics.INTAKE, 10**6, timeout=1)]
            return [e for e in events if e.type == "mednet.CaseRejected.v1" and e.causationid == event_id]

        [rejection] = await wait_for(rejected, timeout=10, interval=0.5)
        assert rejection.payload().firm_id == firm and rejection.payload().external_ref == "ref-?"
        assert await read(kafka, Topics.dead_letter(inbound), 1, timeout=1) == []

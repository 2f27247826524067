"""Malformed submissions on a firm's inbound topic: each gets CaseRejected with a specific reason, or lands on
the dead-letter topic; nothing invalid becomes a case, and a valid submission sent after them is scheduled."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from kafka_helpers import as_record, command, event_of, events_of, new_topic, produce, read, wait_for
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from sample_cases import DELETE, submission, variant
from services_harness import services

VALID = submission("template")
PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()

REJECTED = {  # name: (document, a field the reason must name)
    "one party": (variant(VALID, "parties", VALID["parties"][:1]), "parties"),
    "unknown party zone": (variant(VALID, "parties.0.time_zone", "Mars/Olympus"), "parties.0.time_zone"),
    "unknown mediator zone": (variant(VALID, "mediator.time_zone", "Europe/Atlantis"), "mediator.time_zone"),
    "past session": (variant(variant(VALID, "session.start", PAST), "session.end", datetime.now(UTC).isoformat()),
                     "session.start"),
    "session ends before it starts": (variant(VALID, "session.end", VALID["session"]["start"]), "session.end"),
    "missing contact": (variant(VALID, "parties.0.contact", DELETE), "parties.0.contact"),
    "bad email": (variant(VALID, "parties.1.contact.email", "not-an-email"), "parties.1.contact.email"),
    "parties is a string": (variant(VALID, "parties", "everyone"), "parties"),
    "buffer is text": (variant(VALID, "mediator.buffer_minutes", "fifteen"), "mediator.buffer_minutes"),
    "operator in external_ref": (variant(VALID, "external_ref", {"$gt": ""}), "external_ref"),
    "operator as mediator id": (variant(VALID, "mediator.mediator_id", "$where"), "mediator.mediator_id"),
    "operator as party id": (variant(VALID, "parties.0.party_id", {"$ne": None}), "parties.0.party_id"),
    "duplicate party ids": (variant(VALID, "parties.1.party_id", "p1"), "parties.1.party_id"),
    "missing mediator": (variant(VALID, "mediator", DELETE), "mediator"),
    "working hours end before start": (variant(VALID, "mediator.working_hours.0.end", "07:00"),
                                       "mediator.working_hours.0.end"),
    "no availability": (variant(VALID, "parties.0.availability", []), "parties.0.availability"),
    "unknown field": ({**VALID, "partys": []}, "partys"),
    "call too short": (variant(VALID, "policy.call_minutes", 5), "policy.call_minutes"),
    "unknown role": (variant(VALID, "parties.0.role", "judge"), "parties.0.role"),
    "unknown weekday": (variant(VALID, "parties.0.availability.0.day", "funday"), "parties.0.availability.0.day"),
    "impossible time": (variant(VALID, "mediator.working_hours.0.start", "25:00"), "mediator.working_hours.0.start"),
    "naive session time": (variant(VALID, "session.start", "2030-01-01T10:00:00"), "session.start"),
    "empty title": (variant(VALID, "title", "   "), "title"),
    "huge external_ref": (variant(VALID, "external_ref", "r" * 500), "external_ref"),
    "too many parties": (variant(VALID, "parties", [dict(VALID["parties"][0], party_id=f"q{n}") for n in range(21)]),
                         "parties"),
    "one side only": (variant(VALID, "parties.1.role", "claimant"), "parties"),
    "lowercase holiday country": (variant(VALID, "mediator.holiday_country", "de"), "mediator.holiday_country"),
    "negative notice": (variant(VALID, "policy.minimum_notice_hours", -1), "policy.minimum_notice_hours"),
    "attorney without firm": (variant(VALID, "parties.0.attorney.firm_id", DELETE), "parties.0.attorney.firm_id"),
    "mediator without email": (variant(VALID, "mediator.email", DELETE), "mediator.email"),
}


def envelope(data, **fields) -> bytes:
    document = {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "mednet.SubmitCase.v1", "source": "/t",
                "subject": "x", "time": datetime.now(UTC).isoformat(), "data": data, **fields}
    return json.dumps(document).encode()


DEAD_LETTERED = {  # name: (raw record value, the reason the dead letter must carry)
    "not JSON": (b"{'submit': case", "unparseable"),
    "not UTF-8": (b"\xff\xfe\x00garbage", "unparseable"),
    "empty": (b"", "unparseable"),
    "JSON array": (b"[1, 2, 3]", "unparseable"),
    "oversized": (envelope({"title": "x" * 300_000}), "too-large"),
    "no type": (json.dumps({"specversion": "1.0", "id": "i", "source": "/t", "subject": "s",
                            "time": "2026-01-01T00:00:00Z", "data": {}}).encode(), "unparseable"),
    "old specversion": (envelope(VALID, specversion="0.3"), "unparseable"),
    "data is a list": (envelope([VALID]), "unparseable"),
    "unknown command": (envelope(VALID, type="mednet.DeleteEverything.v1"), "unknown-type"),
    "an event type on a command topic": (envelope(VALID, type="mednet.CaseOpened.v1"), "unknown-type"),
}


async def test_every_malformed_submission_is_rejected_or_dead_lettered_and_valid_work_continues(
    infrastructure, kafka, unique
):
    assert len(REJECTED) + len(DEAD_LETTERED) >= 30
    firm = f"firm-{unique}"
    inbound = await new_topic(kafka, Topics.firm_inbound(firm), partitions=1)
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        rejected_ids = {}
        records = []
        for name, (document, _) in REJECTED.items():
            event = command(document)
            rejected_ids[event.id] = name
            records.append(as_record(event))
        for name, (value, _) in DEAD_LETTERED.items():
            records.append((b"bad", value, []))
        valid = submission(f"good-{unique}", parties=2, mediator_id=f"med-{unique}")
        for party in valid["parties"]:   # the submitting firm represents every party: every side confirmed
            party["attorney"]["firm_id"] = firm
        records.append(as_record(command(valid)))
        await produce(kafka, inbound, records)

        from mednet_intake.domain import case_id_for

        case_id = case_id_for(firm, valid["external_ref"])
        await events_of(kafka, Topics.SCHEDULING, case_id, "CallSlotsOffered", 2, timeout=60)

        rejections: dict[str, CloudEvent] = {}

        async def all_rejected() -> bool:
            for record in await read(kafka, Topics.INTAKE, 10**6, timeout=1.5):
                event = CloudEvent.from_bytes(record.value)
                if event.type == "mednet.CaseRejected.v1" and event.causationid in rejected_ids:
                    rejections[rejected_ids[event.causationid]] = event
            return len(rejections) == len(REJECTED)

        await wait_for(all_rejected, timeout=30, interval=0.5)
        for name, (_, field) in REJECTED.items():
            rejection = rejections[name].payload()
            assert rejection.firm_id == firm
            assert any(reason.field.startswith(field) or field in reason.field for reason in rejection.reasons), (
                f"{name}: {rejection.reasons}")

        dead = await read(kafka, Topics.dead_letter(inbound), len(DEAD_LETTERED), timeout=20)
        by_value = {record.value: dict(record.headers) for record in dead}
        for name, (value, reason) in DEAD_LETTERED.items():
            assert value in by_value, f"{name} was not dead-lettered"
            assert by_value[value]["x-mednet-dlq-reason"] == reason.encode(), name
            assert by_value[value]["x-mednet-dlq-topic"] == inbound.encode()

        answered: list = []

        async def dead_letters_answered() -> bool:
            answered[:] = {e.id: e.payload() for r in await read(kafka, Topics.INTAKE, 10**6, timeout=1.5)
                           if (e := CloudEvent.from_bytes(r.value)).type == "mednet.CommandRejected.v1"
                           and e.data.get("firm_id") == firm and event_of(r)}.values()   # each once: at least once
            return len(answered) >= len(DEAD_LETTERED)

        await wait_for(dead_letters_answered, timeout=30, interval=0.5)
        # every dead letter is answered, with where it went and where it was (the only name of one without an id)
        assert len(answered) == len(DEAD_LETTERED) and {a.dead_letter_topic for a in answered} == {
            Topics.dead_letter(inbound)}
        assert {a.command_type for a in answered} == {"", "mednet.SubmitCase.v1", "mednet.DeleteEverything.v1",
                                                       "mednet.CaseOpened.v1"}
        assert "i" in {a.command_id for a in answered}
        places = {int(by_value[value]["x-mednet-dlq-offset"]) for value, _ in DEAD_LETTERED.values()}
        assert {a.record for a in answered} == {f"0@{offset}" for offset in places}

        cases = apps["intake"][0].state.intake.store.cases
        assert await cases.count_documents({"firm_id": firm}) == 1, "nothing invalid was stored as a case"

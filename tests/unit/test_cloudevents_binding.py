"""The envelope against the CNCF CloudEvents SDK: a record is structured mode per the Kafka protocol binding (the
SDK reads it as such, not as binary mode), a webhook is structured mode per the HTTP binding, keys are case ids (a
rejected submission's its reference), and an answer's correlation and causation are its command's id."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from cloudevents.core.bindings import http as cloudevents_http
from cloudevents.core.bindings import kafka as cloudevents_kafka
from cloudevents.core.formats.json import JSONFormat
from standardwebhooks import Webhook

from mednet_notify.domain import webhook_payload
from mednet_notify.webhooks import WebhookSender
from mednet_shared.contracts.envelope import CONTENT_TYPE, CloudEvent, new_event
from mednet_shared.contracts.events import CaseRejected, CommandRejected
from mednet_shared.contracts.values import Reason
from receivers import WebhookReceiver
from sample_events import completed_event

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
REASONS = [Reason(field="title", message="Field required")]


def kafka_message(event: CloudEvent) -> cloudevents_kafka.KafkaMessage:
    record = event.to_record("mednet.scheduling.events")
    return cloudevents_kafka.KafkaMessage({k: v.encode() for k, v in record.headers.items()}, record.key, record.value)


def test_a_record_is_structured_mode_with_the_one_content_type_header_and_the_sdk_reads_every_attribute():
    event = completed_event("case-42")
    message = kafka_message(event)
    assert message.headers == {"content-type": CONTENT_TYPE.encode()}, "no ce_/ce- attribute headers"
    parsed = cloudevents_kafka.from_kafka(message, JSONFormat())   # binary mode if any ce_ header, else structured
    assert (parsed.get_id(), parsed.get_type(), parsed.get_source(), parsed.get_subject()) == (
        event.id, event.type, event.source, "case-42")
    assert parsed.get_time() == event.time and parsed.get_data() == event.data
    assert parsed.get_extension("correlationid") == event.correlationid and parsed.get_extension("firmid") == "firm-a"
    assert parsed.get_extension("partitionkey") == "case-42", "keyed by the case id"


def test_the_old_ce_headers_made_the_sdk_read_a_structured_record_as_binary_mode():
    """The attack: with `ce-type`/`ce-id` beside a structured value, a reader by the binding takes what it finds.
    With the underscore a Kafka reader takes binary mode and the value as data; the envelope must never do that."""
    event = completed_event()
    message = kafka_message(event)
    binary_looking = cloudevents_kafka.KafkaMessage({**message.headers, "ce_type": b"mednet.Other.v1", "ce_id": b"x",
                                                     "ce_source": b"/x", "ce_specversion": b"1.0"},
                                                    message.key, message.value)
    misread = cloudevents_kafka.from_kafka(binary_looking, JSONFormat())
    assert misread.get_type() == "mednet.Other.v1" and misread.get_data()["id"] == event.id
    assert cloudevents_kafka.from_kafka(message, JSONFormat()).get_type() == event.type


def test_a_rejected_submission_is_keyed_by_the_firms_reference_and_has_no_case_id():
    rejected = CaseRejected(firm_id="firm-a", external_ref="ref-7", reasons=REASONS)
    assert rejected.case_id is None and rejected.subject() == "ref-7"
    assert CaseRejected(firm_id="firm-a", external_ref="", reasons=REASONS).subject() == "firm-a"
    parsed = cloudevents_kafka.from_structured(kafka_message(new_event(rejected, "/mednet/intake")), JSONFormat())
    assert parsed.get_extension("partitionkey") == "ref-7" and parsed.get_data()["case_id"] is None


def test_a_command_rejected_is_keyed_by_its_case_else_its_command_else_its_record():
    def rejected(**fields) -> str:
        return CommandRejected(firm_id="firm-a", command_type="t", reasons=REASONS, rejected_at=NOW,
                               **fields).subject()

    assert rejected(command_id="c-1", case_id="case-9") == "case-9"
    assert rejected(command_id="c-1") == "c-1"
    assert rejected(command_id="", record="2@17") == "record 2@17"


def test_an_answer_carries_its_commands_id_as_correlation_and_causation_whatever_the_firm_claimed():
    command = CloudEvent(id="cmd-1", type="mednet.SubmitCase.v1", source="/firms/a", subject="ref-7", time=NOW,
                         data={}, correlationid="another-firms-chain")
    answer = new_event(CaseRejected(firm_id="firm-a", external_ref="ref-7", reasons=REASONS), "/mednet/intake",
                       caused_by=command.as_firm_command())
    assert (answer.correlationid, answer.causationid) == ("cmd-1", "cmd-1")
    later = new_event(CaseRejected(firm_id="firm-a", external_ref="ref-7", reasons=REASONS), "/x", caused_by=answer)
    assert (later.correlationid, later.causationid) == ("cmd-1", answer.id), "the chain keeps the command's id"


async def test_a_webhook_is_a_structured_cloudevent_per_the_http_binding_and_signed():
    event = completed_event("case-5")
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    sender = WebhookSender(allow_loopback_http=True)
    try:
        with WebhookReceiver() as receiver:
            await sender.send({"_id": "ep-1", "url": f"{receiver.url}/ok/firm-a"}, secret, "msg-1",
                              webhook_payload(event))
    finally:
        await sender.aclose()
    [delivery] = receiver.deliveries
    assert delivery.headers["content-type"] == CONTENT_TYPE
    assert not [name for name in delivery.headers if name.startswith("ce-")], "no binary-mode attribute headers"
    parsed = cloudevents_http.from_http(cloudevents_http.HTTPMessage(delivery.headers, delivery.body), JSONFormat())
    assert (parsed.get_id(), parsed.get_type(), parsed.get_subject()) == (event.id, event.type, "case-5")
    assert parsed.get_data() == event.data
    assert Webhook(secret).verify(delivery.body, delivery.headers)["id"] == event.id

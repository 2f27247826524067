import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mednet_shared.contracts.envelope import (
    CONTENT_TYPE,
    MAX_EVENT_BYTES,
    CloudEvent,
    EnvelopeError,
    derived_id,
    new_event,
)
from mednet_shared.contracts.events import CallCompleted
from sample_events import call_completed, completed_event


def test_structured_mode_record_keyed_by_case():
    event = completed_event("case-42")
    record = event.to_record("mednet.scheduling.events")
    assert record.key == b"case-42"
    assert record.headers["content-type"] == CONTENT_TYPE
    document = json.loads(record.value)
    assert document["specversion"] == "1.0"
    assert document["type"] == "mednet.CallCompleted.v1"
    assert document["subject"] == "case-42"
    assert document["datacontenttype"] == "application/json"
    assert document["firmid"] == "firm-a"
    assert set(document) >= {"id", "source", "time", "data", "correlationid"}


def test_round_trip_gives_the_same_payload():
    event = completed_event()
    assert CloudEvent.from_bytes(event.to_record("t").value).payload() == event.payload()


def test_correlation_follows_the_cause():
    cause = completed_event()
    effect = new_event(call_completed(party="p2"), source="/scheduling", caused_by=cause)
    assert effect.causationid == cause.id
    assert effect.correlationid == cause.correlationid == cause.id


def test_derived_ids_are_stable_and_distinct():
    assert derived_id("event-1", "CallScheduled") == derived_id("event-1", "CallScheduled")
    assert derived_id("event-1", "CallScheduled") != derived_id("event-2", "CallScheduled")


def test_derived_ids_of_the_networks_own_parts_are_those_derived_before_the_escaping():
    before = uuid.uuid5(uuid.NAMESPACE_URL, "mednet:case-0a1b2c:p1/e-1:x@y.org/CallScheduled")
    assert derived_id("case-0a1b2c:p1", "e-1:x@y.org", "CallScheduled") == str(before)


def test_a_part_with_a_slash_cannot_pose_as_several_parts():
    assert derived_id("case-b/opened") != derived_id("case-b", "opened")
    assert derived_id("a%2Fb", "c") != derived_id("a/b", "c")


@given(st.lists(st.text(max_size=8), min_size=1, max_size=4), st.lists(st.text(max_size=8), min_size=1, max_size=4))
def test_derived_ids_differ_whenever_their_parts_do(first, second):
    assert (derived_id(*first) == derived_id(*second)) == (first == second)


def test_the_sender_key_names_topic_source_and_id_unambiguously():
    event = completed_event()
    same_id = event.model_copy(update={"source": event.source + "|x"})
    assert event.sender_key("mednet.firm.a.inbound") != event.sender_key("mednet.firm.b.inbound")
    assert event.sender_key("t") != same_id.sender_key("t")
    topic, source, event_id = same_id.sender_key("t").split("|")
    assert (topic, event_id) == ("t", event.id) and "|" not in source


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"specversion": "0.3"}', "specversion"),
        (b"x" * (MAX_EVENT_BYTES + 1), "exceeds the limit"),
        (b'{"data": ' + b"9" * 5000 + b"}", "ValueError: Exceeds the limit"),
        (b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "RecursionError"),
        (b'{"data": "\\ud800"}', "not a CloudEvents 1.0 envelope"),
    ],
)
def test_bad_records_are_rejected_with_the_reason(raw, reason):
    with pytest.raises(EnvelopeError, match=reason):
        CloudEvent.from_bytes(raw)


def test_unknown_type_and_invalid_data_are_named():
    base = completed_event().model_dump(mode="json")
    with pytest.raises(EnvelopeError, match="unknown event type"):
        CloudEvent.model_validate({**base, "type": "mednet.Nope.v1"}).payload()
    with pytest.raises(EnvelopeError, match="case_id"):
        CloudEvent.model_validate({**base, "data": {**base["data"], "case_id": {"$gt": ""}}}).payload()


def test_operator_keys_never_pass_as_identifiers():
    with pytest.raises(ValueError):
        call_completed(case_id="$where")


def test_validation_errors_do_not_echo_the_input():
    base = completed_event().model_dump(mode="json")
    secret = "settlement-range-SECRET-123"
    with pytest.raises(EnvelopeError) as error:
        CloudEvent.model_validate({**base, "data": {**base["data"], "sequence": secret}}).payload()
    assert secret not in str(error.value)


@given(
    case_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,40}", fullmatch=True),
    sequence=st.integers(min_value=0, max_value=10**6),
    completed=st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_any_valid_event_survives_the_wire(case_id, sequence, completed):
    message = CallCompleted(call_id=f"{case_id}:p", case_id=case_id, party_id="p", mediator_id="m", sequence=sequence,
                            completed_at=completed, participant_firms=["firm-a"])
    event = new_event(message, source="/tests")
    assert CloudEvent.from_bytes(event.to_record("t").value).payload() == message


def test_a_rejection_names_at_most_fifty_problems_and_cuts_long_paths():
    from pydantic import ValidationError

    from mednet_shared.contracts.envelope import reasons
    from mednet_shared.contracts.events import SubmitCase

    with pytest.raises(ValidationError) as error:
        SubmitCase.model_validate({"k" * 10_000: 0, **{f"k{n}": 0 for n in range(5000)}})
    found = reasons(error.value)
    assert len(found) == 51 and found[-1].message.startswith("and ") and found[-1].message.endswith(" more problems")
    assert max(len(reason.field) for reason in found) <= 200

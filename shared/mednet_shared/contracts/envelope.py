"""CloudEvents 1.0 on Kafka, exactly per the CloudEvents Kafka protocol binding, in structured content mode.

Wire format: the record's value is the whole CloudEvent as JSON (`application/cloudevents+json`), and the record
carries one header, `content-type: application/cloudevents+json`. There are no `ce_`/`ce-` attribute headers (those
are binary mode's, and HTTP's) and no `correlation_id` header: every attribute is in the value. Webhooks carry the
same JSON with the same content type (the CloudEvents HTTP binding, structured mode).

Key: the event's subject, which is always the case id. A CaseRejected (a submission that never became a case) is
keyed by the firm's own reference (`external_ref`, its subject) and has no `case_id`; a CommandRejected of a command
that names no case is keyed by the command's id (or, for a record with no readable id, by its `record`).

Matching an answer to a command: the `correlationid` extension attribute is the only correlation id. A command read
from a firm's inbound topic starts its own correlation (whatever correlationid the firm put on it is replaced by
the command's id), so every event it causes, directly or down the line, carries correlationid = the command's id;
an answer (CaseOpened, CaseRejected, CommandRejected, CallScheduled...) also carries causationid = the command's id.
An event nothing caused (a sweep, a deadline) is its own correlation: correlationid = its id, no causationid. The
copy a firm receives on its outbound topic and by webhook (notify's projection for that firm) keeps correlationid;
its causationid names the network's event it is the firm's view of. So a firm matches an answer to its command by
correlationid (and, on the outbound topic, by the key: the case id, or the reference of a rejected submission).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from .events import BY_TYPE, Message
from .values import Reason, utc_now

CONTENT_TYPE = "application/cloudevents+json"
MAX_EVENT_BYTES = 256 * 1024
MAX_REASONS = 50  # in a rejection: a submission of many thousand bad fields would otherwise make one too big to send
MAX_FIELD_CHARS = 200


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid mednet CloudEvent; the message names what is wrong."""

    def __init__(self, message: str, reasons: list[Reason] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or [Reason(field="", message=message)]


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    type: str = Field(pattern=r"^mednet\.[A-Za-z]+\.v[0-9]+$")
    source: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=300)
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    firmid: str | None = None
    correlationid: str | None = None
    causationid: str | None = None

    def payload(self) -> Message:
        model = BY_TYPE.get(self.type)
        if model is None:
            raise EnvelopeError(f"unknown event type {self.type!r}")
        try:
            return model.model_validate(self.data)
        except ValidationError as error:
            raise EnvelopeError(f"{self.type} data is invalid: {describe(error)}", reasons(error)) from None

    def to_record(self, topic: str) -> KafkaRecord:
        return KafkaRecord(
            topic=topic,
            key=self.subject.encode(),
            value=self.model_dump_json(exclude_none=True).encode(),
            headers={"content-type": CONTENT_TYPE},
        )

    @classmethod
    def from_bytes(cls, raw: bytes, limit: int = MAX_EVENT_BYTES) -> CloudEvent:
        """The envelope in raw, or EnvelopeError whatever is wrong with it: too many bytes, not UTF-8 JSON, JSON
        that is no Python value (a number past the int conversion limit, nesting past the recursion limit)."""
        if len(raw) > limit:
            raise EnvelopeError(f"event of {len(raw)} bytes exceeds the limit of {limit} bytes")
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise EnvelopeError(f"not JSON: {error}") from None
        except (ValueError, RecursionError, MemoryError) as error:
            raise EnvelopeError(f"JSON that is no Python value: {type(error).__name__}: {str(error)[:200]}") from None
        if not isinstance(document, dict):
            raise EnvelopeError(f"a CloudEvent is a JSON object, got {type(document).__name__}")
        try:
            return cls.model_validate(document)
        except ValidationError as error:
            raise EnvelopeError(f"not a CloudEvents 1.0 envelope: {describe(error)}") from None
        except (ValueError, RecursionError, MemoryError) as error:
            raise EnvelopeError(f"not a CloudEvents 1.0 envelope: {type(error).__name__}") from None

    def as_firm_command(self) -> CloudEvent:
        """The event as a command of a firm's inbound topic: it starts its own correlation (its id)."""
        return self if self.correlationid == self.id else self.model_copy(update={"correlationid": self.id})

    def sender_key(self, topic: str) -> str:
        """Who sent the event and its id, unambiguously: the topic (on a firm's inbound topic, the firm), the source
        (escaped, so it holds no '|'), the id. Events of different senders never share it."""
        return f"{topic}|{quote(self.source, safe='')}|{self.id}"


def reasons(error: ValidationError, limit: int = MAX_REASONS) -> list[Reason]:
    """Every failing field with its message (the first `limit`, then how many more), without echoing the offending
    input; a field's path is cut to MAX_FIELD_CHARS (a firm may send a key of any length)."""
    found = [Reason(field=_path(e["loc"]), message=text_of(e["msg"]))
             for e in error.errors(include_input=False)]
    more = [Reason(field="", message=f"and {len(found) - limit} more problems")] if len(found) > limit else []
    return found[:limit] + more


def well_formed_part(event: CloudEvent, problems: list[Reason]) -> Message | None:
    """The command made of an invalid event's fields that no reason names, when they make a whole command: its
    rules can then be judged too, so that one answer lists every reason. None when they do not (or a reason is the
    whole payload's)."""
    model, failed = BY_TYPE.get(event.type), {reason.field.split(".")[0] for reason in problems}
    if model is None or "" in failed:
        return None
    kept = {name: value for name, value in event.data.items() if name in model.model_fields and name not in failed}
    try:
        return model.model_validate(kept)
    except (ValidationError, ValueError, RecursionError):
        return None


def describe(error: ValidationError, limit: int = 20) -> str:
    """Every failing field as 'path: message', without echoing the offending input."""
    parts = [f"{_path(e['loc']) or '<root>'}: {text_of(e['msg'])}" for e in error.errors(include_input=False)]
    more = f" (and {len(parts) - limit} more)" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def text_of(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """Firm input fit to go into an event: at most limit characters, valid Unicode (a lone surrogate, which JSON
    escapes can carry, becomes '?')."""
    return str(value)[:limit].encode("utf-8", "replace").decode("utf-8")


def _path(location: tuple) -> str:
    return text_of(".".join(map(str, location)))


def new_event(
    message: Message,
    source: str,
    *,
    firm_id: str | None = None,
    caused_by: CloudEvent | None = None,
    event_id: str | None = None,
) -> CloudEvent:
    """Wrap a message; correlation follows the cause, and a deterministic event_id makes re-emission idempotent."""
    identifier = event_id or str(uuid.uuid4())
    return CloudEvent(
        id=identifier,
        type=message.type_name(),
        source=source,
        subject=message.subject(),
        time=utc_now(),
        data=message.model_dump(mode="json"),
        firmid=firm_id,
        correlationid=(caused_by.correlationid or caused_by.id) if caused_by else identifier,
        causationid=caused_by.id if caused_by else None,
    )


def derived_id(*parts: str) -> str:
    """A stable event id from the things that caused it, so redelivery re-emits the same id. '%' and the separator
    '/' are escaped in each part, so different parts never join to the same text (a firm's id with a '/' in it
    cannot pose as several parts); a part with neither, as every id of the network's own, derives what it did."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mednet:" + "/".join(map(_escaped, parts))))


def _escaped(part: str) -> str:
    return part.replace("%", "%25").replace("/", "%2F")

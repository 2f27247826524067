"""iTIP replies (RFC 5546 METHOD:REPLY) to a call's invitation: read from an email (the inbound SMTP listener) or
an uploaded text/calendar body (POST /v1/replies), checked against the call notify remembers, and published as
InvitationReplied on mednet.notify.events (through the outbox). An unknown UID or attendee changes nothing.

Reading a reply is `read_reply` (icalendar); what it means for the call is `domain.reply_to_call` (pure); the
listener is aiosmtpd in the service's own event loop, off unless MEDNET_NOTIFY_INBOUND_SMTP_HOST/PORT are set.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from collections.abc import Callable
from datetime import datetime
from email.utils import getaddresses

from aiosmtpd.smtp import SMTP, Envelope, Session
from icalendar import Calendar, IncompleteComponent, InvalidCalendar

from mednet_shared.contracts.envelope import derived_id, new_event
from mednet_shared.contracts.events import InvitationReplied
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now

from .domain import ParsedReply, RefusedReply, reply_to_call
from .store import Store

log = logging.getLogger("mednet.notify.replies")
SOURCE = "/mednet/notify"
MAX_REPLY_BYTES = 256 * 1024


def read_reply(ics: bytes) -> ParsedReply:
    """The one VEVENT of an iTIP REPLY: its UID, SEQUENCE, the one replying attendee and its PARTSTAT, for a
    COUNTER the proposed DTSTART/DTEND, and its COMMENT. RefusedReply with the reason for anything else."""
    if len(ics) > MAX_REPLY_BYTES:
        raise RefusedReply(f"the calendar is larger than {MAX_REPLY_BYTES} bytes")
    try:
        calendar = Calendar.from_ical(ics)
    except (ValueError, IndexError, KeyError) as error:
        raise RefusedReply(f"not an iCalendar object: {error}") from None
    method = str(calendar.get("METHOD", "")).upper()
    if method not in ("REPLY", "COUNTER"):
        raise RefusedReply(f"METHOD is {method or 'missing'}; only an iTIP REPLY (or COUNTER) is read")
    events = calendar.walk("VEVENT")
    if len(events) != 1:
        raise RefusedReply(f"a reply has exactly one VEVENT, this one has {len(events)}")
    [event] = events
    uid = str(event.get("UID", "")).strip()
    if not uid:
        raise RefusedReply("the VEVENT has no UID")
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees] if attendees is not None else []
    if len(attendees) != 1:
        raise RefusedReply(f"a reply names exactly one ATTENDEE, this one names {len(attendees)}")
    [attendee] = attendees
    address = str(attendee).removeprefix("mailto:").removeprefix("MAILTO:").strip().lower()
    partstat = "COUNTER" if method == "COUNTER" else str(attendee.params.get("PARTSTAT", "")).upper()
    proposed: list[tuple[datetime, datetime]] = []
    if method == "COUNTER":
        try:
            proposed = [(event.start, event.end)]
        except (KeyError, ValueError, IncompleteComponent, InvalidCalendar):
            raise RefusedReply("a COUNTER proposes a DTSTART and a DTEND") from None
        if not all(isinstance(moment, datetime) and moment.tzinfo for moment in proposed[0]):
            raise RefusedReply("a COUNTER's DTSTART and DTEND are moments with a time zone")
    sequence = int(event.get("SEQUENCE", 0) or 0)
    stamp = event.get("DTSTAMP")
    return ParsedReply(uid=uid, sequence=sequence, attendee_email=address, partstat=partstat, proposed=proposed,
                       comment=str(event.get("COMMENT", ""))[:2000],
                       stamp=stamp.dt.isoformat() if stamp is not None else "")


def calendars_of(message: email.message.Message) -> list[bytes]:
    """Every text/calendar part of an email (alternative or attachment), or an application/ics attachment."""
    found = []
    for part in message.walk():
        if part.get_content_type() in ("text/calendar", "application/ics"):
            payload = part.get_payload(decode=True)
            if payload:
                found.append(payload)
    return found


class Replies:
    """Checks a reply against the call notify remembers and publishes InvitationReplied (once per reply)."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now) -> None:
        self.store, self.clock = store, clock

    async def receive(self, ics: bytes, *, sender: str | None = None,
                      mediator_id: str | None = None) -> InvitationReplied:
        """RefusedReply (with the reason) for an unreadable reply, an unknown UID or attendee, a sender that is not
        the attendee, or a mediator who is not the call's."""
        parsed = read_reply(ics)
        call = await self.store.call(parsed.uid)
        case = await self.store.case(call.case_id) if call is not None and mediator_id is not None else None
        if mediator_id is not None and (case is None or case.mediator_id != mediator_id):
            raise RefusedReply(f"no call has UID {parsed.uid}")
        reply = reply_to_call(parsed, call, self.clock(), sender=sender)
        event = new_event(reply, source=SOURCE, event_id=derived_id(
            "reply", parsed.uid, parsed.attendee_email, str(parsed.sequence), parsed.partstat, parsed.stamp))
        await self.store.publish(f"reply:{event.id}", Topics.NOTIFY, event)
        return reply


class ReplyHandler:
    """aiosmtpd handler: each recipient message is one email carrying an iTIP reply."""

    def __init__(self, replies: Replies) -> None:
        self.replies = replies

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.original_content or envelope.content or b""
        if len(content) > MAX_REPLY_BYTES * 4:
            return "552 5.3.4 message too large for a calendar reply"
        message = email.message_from_bytes(content if isinstance(content, bytes) else content.encode(),
                                           policy=email.policy.default)
        senders = [address.lower() for _, address in getaddresses(message.get_all("From", []))]
        calendars = calendars_of(message)
        if not calendars:
            return "550 5.6.0 no text/calendar reply in the message"
        try:
            for ics in calendars:
                await self.replies.receive(ics, sender=senders[0] if len(senders) == 1 else "")
        except RefusedReply as refused:
            return f"550 5.7.1 reply refused: {refused}"
        except Exception:
            log.exception("an inbound reply could not be recorded")
            return "451 4.3.0 the reply could not be recorded; try again later"
        return "250 2.0.0 reply recorded"


class InboundSmtp:
    """The listener in the service's own event loop (so a reply is written with the service's store)."""

    def __init__(self, replies: Replies, host: str, port: int) -> None:
        self.handler, self.host, self.port = ReplyHandler(replies), host, port
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: SMTP(self.handler, hostname="mednet-notify", data_size_limit=MAX_REPLY_BYTES * 4,
                         enable_SMTPUTF8=True),
            host=self.host, port=self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

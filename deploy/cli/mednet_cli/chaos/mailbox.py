"""A real SMTP server (aiosmtpd) that records what each message is: recipient, Message-ID, calendar UID."""

from __future__ import annotations

import email
import hashlib
import email.policy
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

from aiosmtpd.controller import Controller

CALENDAR_FIELD = re.compile(rb"^(UID|METHOD|SEQUENCE):(.*?)\r?$", re.MULTILINE)


@dataclass(frozen=True)
class Received:
    to: str
    subject: str
    message_id: str
    uid: str
    method: str
    sequence: str
    body: str
    at: float

    @property
    def is_invitation(self) -> bool:
        return self.method == "REQUEST"


def received_from(raw: bytes, at: float) -> Received:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    fields: dict[str, str] = {}
    body = hashlib.sha256()
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            for name, value in CALENDAR_FIELD.findall(part.get_payload(decode=True)):
                fields.setdefault(name.decode(), value.decode().strip())
        elif part.get_content_type() == "text/plain":
            body.update(part.get_payload(decode=True))
    return Received(str(message["To"]), str(message["Subject"]), str(message["Message-ID"]), fields.get("UID", ""),
                    fields.get("METHOD", ""), fields.get("SEQUENCE", ""), body.hexdigest()[:16], at)


class Mailbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[Received] = []
        self._invited: dict[tuple[str, str], float] = {}

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        item = received_from(envelope.original_content or envelope.content, time.time())
        with self._lock:
            self.messages.append(item)
            if item.is_invitation:
                self._invited.setdefault((item.uid, item.to), item.at)
        return "250 OK"

    def invited(self, call_id: str, address: str) -> bool:
        return (call_id, address) in self._invited

    def invitations(self) -> int:
        return len(self._invited)

    def redeliveries(self) -> int:
        """The same message (same Message-ID) received again: a resend after a crash between send and record."""
        counts = Counter(m.message_id for m in self.snapshot())
        return sum(n - 1 for n in counts.values() if n > 1)

    def duplicate_alerts(self) -> list[tuple[str, str, str]]:
        """One alert arriving as two different messages (two Message-IDs): the same invitation or cancellation
        (UID, method, sequence) to the same address, or the same subject and text to the same address."""
        ids: dict[tuple, set[str]] = defaultdict(set)
        for m in self.snapshot():
            ids[(m.to, m.uid, m.method, m.sequence) if m.uid else (m.to, m.subject, m.body)].add(m.message_id)
        return [key for key, distinct in ids.items() if len(distinct) > 1]

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)


class SmtpSink:
    def __init__(self, port: int) -> None:
        self.mailbox = Mailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=port)
        self.port = port

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

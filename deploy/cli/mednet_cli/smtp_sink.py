"""The one local SMTP sink (aiosmtpd), for the tests, the demo, the benchmark and the chaos run.

A `Mailbox` is the aiosmtpd handler: it keeps every message it receives (raw, and summed up as `Received`: recipient,
subject, Message-ID, calendar UID, METHOD and SEQUENCE) and may also write each one to a directory as an .eml file
(`mednet up`'s sink) or append one JSON line of receipt to a file (the benchmark's sink). `SmtpSink` runs it on
loopback in this process; `python -m mednet_cli.smtp_sink HOST PORT (--mail-dir DIR | --receipts FILE)` runs it as
a process until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import hashlib
import json
import re
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

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

    def receipt(self) -> dict:
        return {"at": self.at, "to": self.to.lower(), "subject": self.subject, "calendar": self.method or None}


def received_from(raw: bytes, at: float) -> Received:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    fields: dict[str, str] = {}
    body = hashlib.sha256()
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            for name, value in CALENDAR_FIELD.findall(part.get_payload(decode=True) or b""):
                fields.setdefault(name.decode(), value.decode().strip())
        elif part.get_content_type() == "text/plain":
            body.update(part.get_payload(decode=True) or b"")
    return Received(parseaddr(str(message["To"]))[1], " ".join(str(message["Subject"]).split()),
                    str(message["Message-ID"]), fields.get("UID", ""), fields.get("METHOD", ""),
                    fields.get("SEQUENCE", ""), body.hexdigest()[:16], at)


@dataclass
class Mailbox:
    """Every message received, in order; `keep=False` keeps only the summaries (a long benchmark run). A dataclass,
    so that a test's handler can add fields of its own."""

    mail_dir: Path | None = None
    receipts: Path | None = None
    keep: bool = True
    raw: list[bytes] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._invited: dict[tuple[str, str], float] = {}
        if self.mail_dir is not None:
            self.mail_dir.mkdir(parents=True, exist_ok=True)
        self._receipt_lines = None
        if self.receipts is not None:
            self.receipts.parent.mkdir(parents=True, exist_ok=True)
            self._receipt_lines = self.receipts.open("a", buffering=1)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        content = envelope.original_content or envelope.content
        item = received_from(content, time.time())
        with self._lock:
            if self.keep:
                self.raw.append(content)
            self.received.append(item)
            if item.is_invitation:
                self._invited.setdefault((item.uid, item.to), item.at)
        if self.mail_dir is not None:
            name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
            staging = self.mail_dir / f".{name}"
            staging.write_bytes(content)
            staging.rename(self.mail_dir / name)
        if self._receipt_lines is not None:
            self._receipt_lines.write(json.dumps(item.receipt()) + "\n")
        return "250 OK"

    @property
    def messages(self) -> list[Message]:
        return [email.message_from_bytes(raw) for raw in list(self.raw)]

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if parseaddr(m["To"])[1].lower() == address.lower()]

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def invited(self, call_id: str, address: str) -> bool:
        return (call_id, address) in self._invited

    def invitations(self, call_ids: set[str] | None = None) -> int:
        """Distinct (call, address) invitations; of these calls only, if given (a shared broker carries others')."""
        return sum(1 for uid, _ in list(self._invited) if call_ids is None or uid in call_ids)

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


class SmtpSink:
    """A Mailbox served on 127.0.0.1 (a free port unless one is given) while the `with` block runs."""

    def __init__(self, port: int | None = None, mailbox: Mailbox | None = None) -> None:
        from .processes import free_port

        self.port = port or free_port()
        self.mailbox = mailbox or Mailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *_) -> None:
        self.controller.stop()


def read_mail(directory: Path) -> list[bytes]:
    """The messages a sink process wrote to its mail directory, oldest first."""
    return [path.read_bytes() for path in sorted(directory.glob("*.eml"))]


class Receipts:
    """Reads the receipt lines of a sink process as they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.all: list[dict] = []

    def poll(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        fresh = [json.loads(line) for line in complete.splitlines() if line]
        self.all += fresh
        return fresh


def command(host: str, port: int, *, mail_dir: Path | None = None, receipts: Path | None = None) -> list[str]:
    """The arguments after `python -m mednet_cli.smtp_sink`."""
    where = ["--mail-dir", str(mail_dir)] if mail_dir is not None else ["--receipts", str(receipts)]
    return [host, str(port), *where]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mednet_cli.smtp_sink")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--mail-dir", type=Path)
    where.add_argument("--receipts", type=Path)
    args = parser.parse_args(argv)
    mailbox = Mailbox(mail_dir=args.mail_dir, receipts=args.receipts, keep=False)
    controller = Controller(mailbox, hostname=args.host, port=args.port)
    controller.start()
    print(f"smtp sink on {args.host}:{args.port}, writing to {args.mail_dir or args.receipts}", flush=True)
    stopped = asyncio.Event()

    async def wait() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()

    try:
        asyncio.run(wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

"""The benchmark's SMTP sink: every message it receives becomes one JSON line with the moment it arrived, its
recipient, subject and calendar method (REQUEST for an invitation)."""

from __future__ import annotations

import email
from email import policy
import json
import sys
import time
from email.utils import parseaddr
from pathlib import Path

from ..smtp_sink import serve


class ReceiptLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("a", buffering=1)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        received_at = time.time()
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        methods = [part.get_param("method") for part in message.walk() if part.get_content_type() == "text/calendar"]
        receipt = {"at": received_at, "to": parseaddr(str(message["To"]))[1].lower(), "subject": str(message["Subject"]),
                   "calendar": next(iter(methods), None)}
        self.handle.write(json.dumps(receipt) + "\n")
        return "250 OK"


class Receipts:
    """Reads the sink's lines as they come."""

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


def main(host: str, port: int, path: str) -> None:
    serve(ReceiptLog(Path(path)), host, port, f"bench smtp sink on {host}:{port}, receipts in {path}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])

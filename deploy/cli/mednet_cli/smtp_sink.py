"""A local SMTP sink (aiosmtpd): every message it receives is written to a directory as an .eml file."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class MailDrop:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        staging = self.directory / f".{name}"
        staging.write_bytes(envelope.original_content or envelope.content)
        staging.rename(self.directory / name)
        return "250 OK"


def read_mail(directory: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted(directory.glob("*.eml"))]


def main(host: str, port: int, directory: str) -> None:
    serve(MailDrop(Path(directory)), host, port, f"smtp sink on {host}:{port}, writing to {directory}")


def serve(handler: object, host: str, port: int, banner: str) -> None:
    """Run an aiosmtpd handler until SIGTERM or SIGINT."""
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    print(banner, flush=True)
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
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])

"""Real receivers for the alerts: an SMTP server (aiosmtpd) and an HTTP webhook endpoint, both on loopback."""

from __future__ import annotations

import email
import threading
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from mednet_cli.processes import free_port


@dataclass
class Mailbox:
    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.raw.append(envelope.original_content or envelope.content)
        return "250 OK"

    @property
    def messages(self) -> list[Message]:
        return [email.message_from_bytes(raw) for raw in list(self.raw)]

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if parseaddr(m["To"])[1].lower() == address.lower()]


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_) -> None:
        self.controller.stop()


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Answers 200 on /ok/<firm>, 500 on /fail/<firm>, 307 to http://<rest> on /redirect/<rest>; records every
    request."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.deliveries.append(Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path.startswith("/redirect/"):
                    self.send_response(307)
                    self.send_header("location", "http://" + self.path.removeprefix("/redirect/"))
                else:
                    self.send_response(500 if self.path.startswith("/fail") else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_) -> None:
        self.server.shutdown()

    def to(self, path_prefix: str) -> list[Delivery]:
        return [d for d in list(self.deliveries) if d.path.startswith(path_prefix)]

"""Real receivers for the alerts, on loopback: the CLI's one SMTP sink (aiosmtpd) and an HTTP webhook endpoint."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mednet_cli.processes import free_port
from mednet_cli.smtp_sink import Mailbox, SmtpSink

SmtpServer = SmtpSink  # a Mailbox on a free loopback port: .port, .mailbox (.raw, .messages, .to()), .controller

__all__ = ["Mailbox", "SmtpServer", "SmtpSink", "WebhookReceiver", "SlowHttpServer", "self_signed"]


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Answers 200 on /ok/<firm>, 500 on /fail/<firm>, 307 to http://<rest> on /redirect/<rest>; records every
    request."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self.server_names: list[str | None] = []
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
        if tls is not None:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_) -> None:
        self.server.shutdown()

    def to(self, path_prefix: str) -> list[Delivery]:
        return [d for d in list(self.deliveries) if d.path.startswith(path_prefix)]


class SlowHttpServer:
    """A raw HTTP server on loopback in the test's event loop. Each request is read whole; then the answer is
    dripped one byte a second forever (`drip`), or a 200 OK of `huge_bytes` of body is written as fast as the
    client takes it (`huge`). Counts open connections per path (its first segment) and bytes written."""

    def __init__(self, mode: str, huge_bytes: int = 200 * 1024 * 1024) -> None:
        self.mode, self.huge_bytes = mode, huge_bytes
        self.open: dict[str, int] = {}
        self.most_open: dict[str, int] = {}
        self.requests = 0
        self.written = 0
        self.server = None
        self.url = ""
        self.writers: set = set()

    async def __aenter__(self) -> SlowHttpServer:
        import asyncio

        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_) -> None:
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()

    @property
    def open_total(self) -> int:
        return sum(self.open.values())

    async def _serve(self, reader, writer) -> None:
        import asyncio

        self.writers.add(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        self.requests += 1
        lane = path.strip("/").split("/")[0]
        self.open[lane] = self.open.get(lane, 0) + 1
        self.most_open[lane] = max(self.most_open.get(lane, 0), self.open[lane])
        try:
            if self.mode == "drip":
                for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n" * 1000:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    self.written += 1
                    await asyncio.sleep(1)
            else:
                writer.write(f"HTTP/1.1 200 OK\r\ncontent-length: {self.huge_bytes}\r\n\r\n".encode())
                chunk = b"x" * (1024 * 1024)
                for _ in range(self.huge_bytes // len(chunk)):
                    writer.write(chunk)
                    await writer.drain()
                    self.written += len(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open[lane] -= 1
            self.writers.discard(writer)
            writer.close()


def self_signed(directory: Path, dns_names: list[str] = (), ips: list[str] = ()) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for these names and addresses, and its key, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, [*dns_names, *ips][0])])
    names = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file

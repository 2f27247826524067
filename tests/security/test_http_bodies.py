"""A 300 MB request body, with a Content-Length and chunked, to a notes service PROCESS over TCP: answered 401
(no token) or 413 (valid token) before 1 MB of it is read, and the process's peak RSS stays within 50 MB of
what it was before. What the service read is its own count (mednet_http_request_body_bytes_total); where it
answers without reading at all, what the client could push into the connection before the answer (an upper
bound: the rest sits in kernel buffers) is under 1 MB too."""

from __future__ import annotations

import json
import re
import select
import socket
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request

from mednet_shared.platform.auth import Role, TokenPolicy, issue_token
from mednet_shared.platform.http import BoundedBody
from service_processes import start_service, terminate, wait_status
from services_harness import client, running, settings_for

pytestmark = pytest.mark.timeout(300)
MiB = 1024 * 1024
ATTACK = 300 * MiB
JWT = {"MEDNET_JWT_KEYS": json.dumps({"b1": "the-key-of-the-request-body-tests-0123"}), "MEDNET_JWT_ACTIVE_KID": "b1"}
PATH = "/v1/calls/case-0:p1/notes"


def pieces(total: int, size: int = 64 * 1024):
    """A JSON document of `total` bytes, made as it is sent: a note of one huge string."""
    prefix, suffix = b'{"observations": {"concerns": "', b'"}}'
    filler = b"x" * size
    yield prefix
    left = total - len(prefix) - len(suffix)
    while left > 0:
        yield filler[:left]
        left -= size
    yield suffix


def push(port: int, token: str | None, total: int, chunked: bool, method: str = "PUT", path: str = PATH,
         deaf: bool = False) -> tuple[int, int, bytes]:
    """Send `total` bytes of JSON as fast as the server takes them; stop as soon as it answers (unless `deaf`:
    then only when the server stops taking them). Returns (status, body bytes handed to the connection, the
    answer)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: notes\r\nContent-Type: application/json\r\n{auth}{framing}\r\n\r\n"
                 .encode())
    body = pieces(total)
    sent, pending = 0, memoryview(b"")
    sock.setblocking(False)
    while True:
        readable, writable, _ = select.select([] if deaf else [sock], [sock], [], 15)
        if readable or not writable:
            break
        if not pending:
            piece = next(body, None)
            if piece is None:
                if chunked:
                    sock.setblocking(True)
                    sock.sendall(b"0\r\n\r\n")
                break
            pending = memoryview(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        try:
            written = sock.send(pending)
        except OSError:   # reset or closed by the server
            break
        sent += written
        pending = pending[written:]
    status, received = read_answer(sock)
    return status, sent, received


def read_answer(sock: socket.socket) -> tuple[int, bytes]:
    sock.setblocking(True)
    sock.settimeout(60)
    received = b""
    try:
        while b"\r\n\r\n" not in received or not complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, head + b"\r\n\r\n" + body


def complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def memory(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def body_bytes_read(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(r'^mednet_http_request_body_bytes_total\{service="notes"\} (\S+)$', text, re.MULTILINE)
    assert found, "the service does not count the body bytes it reads"
    return int(float(found.group(1)))


@pytest.fixture(scope="module")
def notes(infrastructure, tmp_path_factory):
    log = tmp_path_factory.mktemp("bodies") / "notes.log"
    process, url = start_service("notes", infrastructure.kafka_bootstrap_servers, infrastructure.mongodb_url, log,
                                 jwt=JWT)
    try:
        wait_status(url, 200)
        yield process, urlsplit(url).port
    finally:
        terminate(process)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("authenticated", [False, True], ids=["anonymous", "mediator"])
def test_a_300_mb_body_is_refused_before_1_mb_of_it_is_read(notes, authenticated, chunked):
    process, port = notes
    token = issue_token(TokenPolicy.from_environment(JWT), Role.MEDIATOR, mediator_id="med-0") if authenticated \
        else None
    warm = push(port, token, 1024, chunked)
    assert warm[0] in (401, 404), warm
    read_before = body_bytes_read(port)
    baseline = memory(process.pid, "VmRSS")
    Path(f"/proc/{process.pid}/clear_refs").write_text("5")
    started = time.monotonic()
    status, sent, answer = push(port, token, ATTACK, chunked)
    seconds = time.monotonic() - started
    grown = memory(process.pid, "VmHWM") - baseline
    read = body_bytes_read(port) - read_before
    print(f"\n{'chunked' if chunked else 'content-length'} {'with' if authenticated else 'without'} token: "
          f"{status} after {read:,} bytes read ({sent:,} sent) in {seconds:.2f}s; peak RSS +{grown / MiB:.1f} MB")
    assert status == (413 if authenticated else 401), answer[:400]
    assert read < MiB, f"{read:,} bytes of the body were read before the {status}"
    if not (authenticated and chunked):
        assert sent < MiB, f"{sent:,} bytes of the body went in before the {status}"
    assert grown < 50 * MiB, f"the process grew by {grown / MiB:.0f} MB"
    problem = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert set(problem) == {"detail", "errors"} and problem["detail"], problem


@pytest.mark.parametrize("method, path, authenticated", [("PUT", PATH, False), ("PUT", PATH, True),
                                                          ("GET", "/v1/cases/case-0/brief", True)],
                         ids=["401", "413", "answered without reading the body"])
def test_a_sender_that_ignores_the_answer_is_cut_off(notes, method, path, authenticated):
    """The connection is closed with the answer, so the rest of the body is not read and thrown away."""
    process, port = notes
    token = issue_token(TokenPolicy.from_environment(JWT), Role.MEDIATOR, mediator_id="med-0") if authenticated \
        else None
    baseline = memory(process.pid, "VmRSS")
    Path(f"/proc/{process.pid}/clear_refs").write_text("5")
    _, sent, _ = push(port, token, ATTACK, chunked=True, method=method, path=path, deaf=True)
    grown = memory(process.pid, "VmHWM") - baseline
    print(f"\n{method} {path}: cut off after {sent:,} bytes; peak RSS +{grown / MiB:.1f} MB")
    assert sent < 16 * MiB, f"the server took {sent:,} bytes of a body it had answered"
    assert grown < 50 * MiB


async def test_a_route_with_its_own_limit_takes_more_and_only_it():
    """The per-route override is FastAPI's max_body_size (kept for document uploads): that route takes a body
    past the default, every other route refuses it, and past the route's own limit it is 413 too."""
    app = FastAPI()

    @app.post("/v1/small")
    @app.post("/v1/upload", max_body_size=2 * MiB)
    async def take(request: Request) -> dict:
        return {"read": len(await request.body())}

    app.add_middleware(BoundedBody, service="test", default_limit=64 * 1024)
    body, headers = b"x" * MiB, {"content-type": "application/octet-stream"}

    async def chunks(size: int):
        for _ in range(size // 65536):
            yield b"x" * 65536

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.post("/v1/upload", content=body, headers=headers)).json() == {"read": MiB}
        assert (await http.post("/v1/upload", content=chunks(MiB), headers=headers)).json() == {"read": MiB}
        assert (await http.post("/v1/upload", content=chunks(3 * MiB), headers=headers)).status_code == 413
        assert (await http.post("/v1/small", content=body, headers={"content-type": "application/json"})
                ).status_code == 413
        assert (await http.post("/v1/small", content=chunks(MiB), headers={"content-type": "application/json"})
                ).status_code == 413
        assert (await http.post("/v1/small", content=b"{}", headers=headers)).status_code == 415
        assert (await http.post("/v1/small", json={})).json() == {"read": 2}


async def test_the_default_limit_is_a_setting_of_each_service(infrastructure, unique):
    configured = settings_for("scheduling", infrastructure, unique, http_max_body_bytes=1024)
    async with running("scheduling", configured) as app, client(app, Role.OPERATOR) as operator:
        path = "/v1/mediators/m-1/availability"
        assert (await operator.put(path, json={"blackout_days": ["2026-12-24"] * 20})).status_code == 200
        refused = await operator.put(path, json={"blackout_days": ["2026-12-24"] * 100})
        assert refused.status_code == 413 and "1024 bytes" in refused.json()["detail"]

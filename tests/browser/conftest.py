"""The browser tier: the five services as processes on the real stack, a real SMTP sink, Debian's Chromium driven by
Playwright (headless), axe-core on every page.

Fixtures (their names are stable; tests/browser/test_*.py use them):
- `browser_stack` (package: stopped after the last browser test): a `BrowserStack`: `url[name]` of intake, scheduling, notes, notify and console (real
  processes, their logs in `logs`), `mailbox` (every mail notify sent to this stack's addresses, a
  `mednet_cli.smtp_sink.Mailbox`), `issuer` (a local token issuer every service trusts through its JWKS file),
  `firms` (firm ids with signing keys), `kafka`, `mongodb_url`, `databases[name]` (each service's own MongoDB
  database); `token(role, **claims)`, `login_link(mediator_id)` (what `mednet console login --mediator <id>` prints
  for this console), `open_case(...)` (a case with two sides on different firms, both confirmed: an `OpenedCase`).
- `browser` (package: Playwright's sync API holds an event loop on the main thread while it runs, which would stop every later asyncio test): Playwright's Chromium from /usr/bin/chromium (missing: the run FAILS, never skips).
- `page` (test): a fresh context and page at desktop width; its last state is saved as `<tmp>/final.png`.
- `phone_page` (test): the same at 390 x 844 (a phone).
- `shot(page, name, docs=False)`: a screenshot into the test's tmp dir (and into docs/console/ when docs is true and
  MEDNET_DOCS_SCREENSHOTS=1: a test run leaves the work tree as it was).
- `axe(page)`: asserts axe-core finds no violation on the page as it is now.
- `run(coro)`: runs an async helper (Kafka, HTTP) to its end on a thread of its own, from a sync browser test.
- `no_horizontal_scroll(page)`: asserts the page is no wider than its viewport.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kafka_helpers import as_record, new_topic, produce, wait_for
from mednet_cli.processes import free_port
from mednet_cli.smtp_sink import Mailbox, SmtpSink
from mednet_cli.tokens import Issuer, jwks_url
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from sample_cases import accept_representation, submission
from service_processes import start_service, terminate, wait_status
from services_harness import TEST_SECRET_KEYS

CHROMIUM = Path("/usr/bin/chromium")
SERVICES = ("intake", "scheduling", "notes", "notify", "console")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


def run(coro):
    """An async helper run to its end on its own thread and loop (Playwright's sync API owns this thread)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class OwnMailbox(Mailbox):
    """Keeps only the mail to this stack's own addresses (they hold `marker`): notify also mails the people of every
    other case on a shared broker, and a mailbox that keeps all of it gets slower to read with each one."""

    marker: str = ""

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        if not any(self.marker in recipient for recipient in envelope.rcpt_tos):
            return "250 OK"
        return await super().handle_DATA(server, session, envelope)


@dataclass(frozen=True)
class OpenedCase:
    case_id: str
    mediator_id: str
    document: dict
    firms: dict[str, str]
    """party id -> the firm representing it (p1: the submitting firm, p2: another firm that accepted the side)."""

    def party(self, party_id: str) -> dict:
        return next(p for p in self.document["parties"] if p["party_id"] == party_id)


@dataclass
class BrowserStack:
    url: dict[str, str]
    issuer: Issuer
    mailbox: Mailbox
    kafka: str
    mongodb_url: str
    unique: str
    logs: Path
    databases: dict[str, str] = field(default_factory=dict)

    @property
    def firms(self) -> list[str]:
        return [f"firm-{letter}{self.unique}" for letter in "abc"]

    def token(self, role: Role, **claims) -> str:
        return self.issuer.issue(role, **claims)

    def login_link(self, mediator_id: str) -> str:
        """The console's one-time sign-in link for the mediator (what `mednet console login` prints)."""
        from mednet_cli.dev.console_login import login_link

        return login_link(self.issuer.data_dir, mediator_id, self.url["console"])

    def open_case(self, mediator_id: str | None = None, *, days_ahead: int = 21,
                  conferencing: dict | None = None) -> OpenedCase:
        """A two-party case: p1 represented by the submitting firm (firms[0]), p2 by another firm (firms[1]) that
        accepts the side on its own inbound topic; both confirmed before this returns. The mediator's conferencing
        profile is set first (default: a video room)."""
        room = {"kind": "video", "url_template": "https://meet.example.org/{room}"}
        return run(self._open_case(mediator_id or f"med-{uuid.uuid4().hex[:8]}", days_ahead, conferencing or room))

    async def _open_case(self, mediator_id: str, days_ahead: int, conferencing: dict) -> OpenedCase:
        submitter, other = self.firms[0], self.firms[1]
        tag = f"{self.unique}{uuid.uuid4().hex[:6]}"   # in every address: the sink keeps only this stack's mail
        document = submission(f"browser-{tag}", parties=2, mediator_id=mediator_id, days_ahead=days_ahead, tag=tag)
        document["mediator"]["email"] = f"{mediator_id}.{tag}@mediators.example.org"
        document["parties"][0]["attorney"]["firm_id"] = submitter
        document["parties"][1]["attorney"]["firm_id"] = other
        document["parties"][0]["attorney"]["email"] = f"counsel-p1.{tag}@{submitter}.example.org"
        document["parties"][1]["attorney"]["email"] = f"counsel-p2.{tag}@{other}.example.org"
        async with httpx.AsyncClient(timeout=30) as http:
            mediator = {"Authorization": f"Bearer {self.token(Role.MEDIATOR, mediator_id=mediator_id)}"}
            put = await http.put(f"{self.url['scheduling']}/v1/mediators/{mediator_id}/conferencing", json=conferencing,
                                 headers=mediator)
            assert put.status_code == 200, put.text
            firm = {"Authorization": f"Bearer {self.token(Role.FIRM, firm_id=submitter)}"}
            created = await http.post(f"{self.url['intake']}/v1/cases", json=document, headers=firm)
            assert created.status_code == 201, created.text
            case_id = created.json()["case_id"]
            await produce(self.kafka, Topics.firm_inbound(other),
                          [as_record(accept_representation(other, case_id, "p2"))])

            async def confirmed() -> bool:
                view = (await http.get(f"{self.url['intake']}/v1/cases/{case_id}", headers=firm)).json()
                return all(side["status"] == "confirmed" for side in view.get("sides", []))

            await wait_for(confirmed, timeout=150, interval=0.5)
        return OpenedCase(case_id, mediator_id, document, {"p1": submitter, "p2": other})


def _settings(name: str, url: dict[str, str], unique: str, smtp_port: int) -> dict[str, str]:
    inbound = {"inbound_topic_pattern": rf"mednet\.firm\.[a-z0-9-]*{unique}[a-z0-9-]*\.inbound$"}
    return {
        "intake": inbound,
        "scheduling": {**inbound, "console_url": url["console"], "complete_before_start": "true",
                       "sweep_seconds": "2"},
        "notes": {},
        "notify": {"smtp_port": str(smtp_port), "secret_keys": TEST_SECRET_KEYS, "secret_key_id": "s1",
                   "poll_seconds": "0.3", "brief_url": url["console"] + "/cases/{case_id}/brief"},
        "console": {"public_url": url["console"], "login_links": "true",
                    **{f"{other}_url": url[other] for other in SERVICES if other != "console"}},
    }[name]


@pytest.fixture(scope="package")
def browser_stack(infrastructure, tmp_path_factory) -> BrowserStack:
    unique = uuid.uuid4().hex[:8]
    home = tmp_path_factory.mktemp("browser-stack")
    issuer = Issuer(home)
    kafka = infrastructure.kafka_bootstrap_servers
    stack = BrowserStack(url={}, issuer=issuer, mailbox=OwnMailbox(marker=unique), kafka=kafka,
                         mongodb_url=infrastructure.mongodb_url, unique=unique, logs=home)
    for firm in stack.firms:
        issuer.ensure_firm(firm)
        run(new_topic(kafka, Topics.firm_inbound(firm)))
    ports = {name: free_port() for name in SERVICES}
    stack.url.update({name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
    jwt = {"MEDNET_JWT_JWKS_URL": jwks_url(home)}
    with SmtpSink(mailbox=stack.mailbox) as sink:
        processes = []
        try:
            for name in SERVICES:
                process, _ = start_service(name, kafka, infrastructure.mongodb_url, home / f"{name}.log", jwt=jwt,
                                           port=ports[name], **_settings(name, stack.url, unique, sink.port))
                processes.append((name, process))
                stack.databases[name] = f"mednet_{name}_{ports[name]}"
            for name, process in processes:
                try:
                    wait_status(stack.url[name], 200, timeout=120)
                except AssertionError:
                    log = (home / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise AssertionError(f"{name} did not become ready (exit {process.poll()}):\n{log}") from None
            yield stack
        finally:
            for _, process in processes:
                if process.poll() is None:
                    terminate(process)


@pytest.fixture(scope="package")
def browser():
    assert CHROMIUM.exists(), (f"{CHROMIUM} is missing: the browser tests need Debian's Chromium; run `make setup` "
                               "(deploy/tools/install-tools.sh installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield chromium
        chromium.close()


def _page(browser, tmp_path: Path, viewport: dict):
    context = browser.new_context(viewport=viewport, locale="en-GB")
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    try:
        page.screenshot(path=str(tmp_path / "final.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture
def page(browser, tmp_path):
    yield from _page(browser, tmp_path, DESKTOP)


@pytest.fixture
def phone_page(browser, tmp_path):
    yield from _page(browser, tmp_path, PHONE)


@pytest.fixture
def shot(tmp_path):
    def save(page, name: str, docs: bool = False) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if docs and os.environ.get("MEDNET_DOCS_SCREENSHOTS") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / f"{name}.png")
        return path

    return save


def axe_violations(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page).response["violations"]


@pytest.fixture
def axe():
    def check(page) -> None:
        violations = axe_violations(page)
        assert not violations, "axe-core: " + "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in violations)

    return check


@pytest.fixture
def no_horizontal_scroll():
    def check(page) -> None:
        wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert wide[0] <= wide[1], f"the page is {wide[0]} px wide in a {wide[1]} px viewport (horizontal scroll)"

    return check


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.timeout(900))   # the first test also starts the stack; a loaded machine

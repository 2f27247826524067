"""The notify service tests' world: notify on in-memory adapters, driven through the handler, the dispatcher
and the HTTP API; no Kafka, no MongoDB, no SMTP server, no network (webhook hosts resolve through a fake
resolver, posts are answered here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ssl

import httpx
from mednet_notify import api
from mednet_notify.config import Settings
from mednet_notify.dispatch import Dispatcher
from mednet_notify.errors import DeliveryError
from mednet_notify.handlers import Notifier
from mednet_notify.memory import MemoryStore
from mednet_notify.replies import Replies
from mednet_notify.webhooks import WebhookSender
from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.events import Message
from mednet_shared.platform.auth import Role, TokenPolicy, issue_token
from mednet_shared.platform.consumer import Incoming
from mednet_shared.platform.memory import api_app
from mednet_shared.platform.sealed import SecretBox
from sample_cases import submission
from services_harness import TEST_SECRET_KEYS, jwt_settings

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
START = NOW + timedelta(days=3)
TLS = ssl.create_default_context()  # made once: loading the CA bundle for every test's sender is slow
HOSTS = {"hooks.firm-a.example": "93.184.216.34", "hooks.firm-b.example": "93.184.216.35",
         "hooks.firm-s.example": "93.184.216.36",
         "internal.firm-a.example": "10.0.0.7"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Mailbox:
    """The mailer's stand-in: every email sent, by alert id; addresses in `refuse` fail."""

    def __init__(self) -> None:
        self.sent: dict[str, object] = {}
        self.refuse: set[str] = set()

    async def send(self, email, alert_id: str | None = None) -> None:
        if email.to in self.refuse:
            raise DeliveryError("SMTP 127.0.0.1:25: SMTPRecipientRefused")
        self.sent[alert_id] = email

    def to(self, address: str) -> list:
        return [email for email in self.sent.values() if email.to == address]

    async def close(self) -> None:
        return None


class Receiver(WebhookSender):
    """The real sender (vetting, signing, deadline) whose POST is answered here with `status`."""

    def __init__(self) -> None:
        async def resolver(host: str, port: int) -> list[str]:
            if host not in HOSTS:
                raise OSError(f"{host} does not resolve")
            return [HOSTS[host]]

        super().__init__(resolver=resolver, deadline_seconds=2, verify=TLS)
        self.status = 200
        self.posts: list[tuple[str, dict[str, str], str]] = []

    async def _post(self, url: httpx.URL, address: str, headers: dict[str, str], payload: str) -> int:
        self.posts.append((f"{url.scheme}://{address}{url.path}", headers, payload))
        return self.status


class World:
    def __init__(self) -> None:
        self.settings = Settings(**jwt_settings(), brief_url="https://notes.example/v1/cases/{case_id}/brief",
                                 delivery_max_attempts=3, webhook_disable_after=3, webhook_max_endpoints_per_firm=2)
        self.clock = Clock()
        self.store = MemoryStore(SecretBox.parse(TEST_SECRET_KEYS), self.settings.webhook_max_endpoints_per_firm)
        self.mail = Mailbox()
        self.hooks = Receiver()
        self.dispatcher = Dispatcher(self.store, self.mail, self.hooks, poll_seconds=3600, max_attempts=3,
                                     backoff_seconds=1, backoff_max_seconds=60, disable_after=3,
                                     concurrency=2, webhook_concurrency=2, clock=self.clock)
        self.notifier = Notifier(self.store, self.dispatcher, self.settings.brief_url, clock=self.clock)
        self.app = api_app(self.settings, [api.router])
        self.app.state.notifier = self.notifier
        self.replies = Replies(self.store, clock=self.clock)
        self.app.state.replies = self.replies

    async def deliver(self, message: Message, event_id: str | None = None) -> CloudEvent:
        """The event through the handler, then every job due sent (as the poll would)."""
        event = new_event(message, source="/tests", event_id=event_id)
        await self.notifier.handle(Incoming(event=event, message=message, topic=message.topic, partition=0, offset=0))
        await self.send_due()
        return event

    async def send_due(self) -> None:
        await self.dispatcher.dispatch_due()
        await self.dispatcher.idle()

    def jobs(self, purpose: str | None = None, status: str | None = None) -> list[dict]:
        return [job for job in self.store.jobs.values()
                if purpose in (None, job["purpose"]) and status in (None, job["status"])]

    def client(self, role: Role, **claims) -> httpx.AsyncClient:
        token = issue_token(TokenPolicy.of(self.settings), role, **claims)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://notify",
                                 headers={"Authorization": f"Bearer {token}"})


def case_opened(case_id: str = "case-1") -> dict:
    return {"case_id": case_id, "firm_id": "firm-s", "participant_firms": ["firm-a", "firm-b", "firm-s"],
            **submission("ref-1", now=NOW)}


def attendees() -> list[dict]:
    return [{"kind": "party", "name": "Pat Party", "email": "pat@parties.example.org", "time_zone": "Asia/Kolkata",
             "firm_id": "firm-a"},
            {"kind": "attorney", "name": "Ann Counsel", "email": "ann@firm-a.example.org",
             "time_zone": "Europe/London", "firm_id": "firm-a"},
            {"kind": "mediator", "name": "Ada Mediator", "email": "med-ada@mediators.example.org",
             "time_zone": "Europe/Berlin"}]


def call(sequence: int = 0, start: datetime = START, **more) -> dict:
    return {"call_id": "case-1:p1", "case_id": "case-1", "party_id": "p1", "mediator_id": "med-ada",
            "sequence": sequence, "start": start, "end": start + timedelta(minutes=45), "attendees": attendees(),
            "participant_firms": ["firm-a", "firm-b", "firm-s"], **more}

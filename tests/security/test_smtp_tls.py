"""notify's SMTP: STARTTLS with a verified certificate and AUTH, by configuration, against a real aiosmtpd
listener that requires both (self-signed certificate made here). TLS is never skipped when configured, an
unknown certificate is refused before the password is sent, and a login configured without TLS stops the
service at start."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import ValidationError

from kafka_helpers import as_record, produce, wait_for
from mednet_cli.processes import free_port
from mednet_notify.config import Settings
from mednet_notify.dispatch import DeliveryError, Mailer
from mednet_notify.messages import Email
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CallScheduled
from mednet_shared.contracts.topics import Topics
from receivers import Mailbox, self_signed
from services_harness import TEST_JWT_ENVIRONMENT, TEST_JWT_KEYS, running, settings_for

USER, PASSWORD = "mednet-notify", "s3cret-relay-password"


@dataclass
class SecureMailbox(Mailbox):
    logins: list[tuple[str, bool]] = field(default_factory=list)
    sessions: list[tuple[bool, bool]] = field(default_factory=list)

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), session.ssl is not None))
        return AuthResult(success=(auth_data.login.decode(), auth_data.password.decode()) == (USER, PASSWORD))

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.sessions.append((session.ssl is not None, session.authenticated))
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Relay:
    port: int
    mailbox: SecureMailbox
    ca_file: str


@pytest.fixture
def relay(tmp_path):
    """A relay that requires STARTTLS before anything and AUTH before mail."""
    cert_file, key_file = self_signed(tmp_path, ips=["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    mailbox, port = SecureMailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, auth_require_tls=True, authenticator=mailbox.authenticate)
    controller.start()
    yield Relay(port, mailbox, str(cert_file))
    controller.stop()


@pytest.fixture
def plain_relay():
    """A relay that offers neither STARTTLS nor AUTH (a downgrade: STARTTLS stripped on the way)."""
    mailbox, port = SecureMailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield Relay(port, mailbox, "")
    controller.stop()


def hello(n: int = 1) -> Email:
    return Email(to="party@example.org", subject=f"message {n}", text="hello")


async def test_starttls_and_login_deliver_over_a_verified_session(relay):
    mailer = Mailer("127.0.0.1", relay.port, "mednet@example.org", security="starttls", username=USER,
                    password=PASSWORD, ca_file=relay.ca_file)
    await mailer.send(hello(1))
    await mailer.send(hello(2))
    await mailer.close()
    assert [m["Subject"] for m in relay.mailbox.messages] == ["message 1", "message 2"]
    assert relay.mailbox.logins == [(USER, True)], "logged in once, over TLS"
    assert relay.mailbox.sessions == [(True, True), (True, True)]


async def test_a_mailer_without_tls_or_with_a_wrong_password_is_refused(relay):
    with pytest.raises(DeliveryError, match="STARTTLS"):
        await Mailer("127.0.0.1", relay.port, "mednet@example.org").send(hello())
    with pytest.raises(DeliveryError):
        await Mailer("127.0.0.1", relay.port, "mednet@example.org", 2.0, security="starttls", username=USER,
                     password="guessed", ca_file=relay.ca_file).send(hello())
    assert relay.mailbox.raw == [] and relay.mailbox.logins[0] == (USER, True)


async def test_an_unknown_certificate_is_refused_before_the_password_is_sent(relay):
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        await Mailer("127.0.0.1", relay.port, "mednet@example.org", security="starttls", username=USER,
                     password=PASSWORD).send(hello())
    assert relay.mailbox.logins == [] and relay.mailbox.raw == []


async def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(plain_relay):
    with pytest.raises(DeliveryError, match="(?i)starttls"):
        await Mailer("127.0.0.1", plain_relay.port, "mednet@example.org", security="starttls", username=USER,
                     password=PASSWORD).send(hello())
    assert plain_relay.mailbox.logins == [] and plain_relay.mailbox.raw == []


def notify_settings(**values) -> Settings:
    return Settings(jwt_keys=TEST_JWT_KEYS, jwt_active_kid="test-1", jwt_jwks_url="", **values)


def test_a_login_without_tls_is_refused_by_configuration():
    with pytest.raises(ValidationError, match="without TLS: the password would cross the network in clear"):
        notify_settings(smtp_username=USER, smtp_password=PASSWORD)
    with pytest.raises(ValidationError, match="come together"):
        notify_settings(smtp_username=USER, smtp_security="starttls")
    assert notify_settings(smtp_username=USER, smtp_password=PASSWORD, smtp_allow_plaintext_auth=True).smtp_username
    configured = notify_settings(smtp_username=USER, smtp_password=PASSWORD, smtp_security="starttls")
    assert PASSWORD not in repr(configured) and PASSWORD not in str(configured.model_dump())


def test_the_service_started_with_a_login_but_no_tls_exits_and_says_why():
    environment = {**os.environ, **TEST_JWT_ENVIRONMENT, "MEDNET_JWT_JWKS_URL": "",
                   "MEDNET_NOTIFY_SMTP_USERNAME": USER, "MEDNET_NOTIFY_SMTP_PASSWORD": PASSWORD,
                   "MEDNET_NOTIFY_HTTP_PORT": str(free_port())}
    started = subprocess.run([sys.executable, "-m", "mednet_notify"], env=environment, capture_output=True,
                             text=True, timeout=60)
    assert started.returncode != 0
    assert "SMTP login is configured without TLS" in started.stderr + started.stdout
    assert PASSWORD not in started.stderr + started.stdout


async def test_notify_sends_invitations_through_the_secured_relay(relay, infrastructure, kafka, unique):
    settings = settings_for("notify", infrastructure, unique, smtp_port=relay.port, smtp_security="starttls",
                            smtp_username=USER, smtp_password=PASSWORD, smtp_ca_file=relay.ca_file)
    start = datetime.now(UTC) + timedelta(days=3)
    mediator = f"max-{unique}@example.org"
    scheduled = CallScheduled(
        call_id=f"case-{unique}:p1", case_id=f"case-{unique}", party_id="p1", mediator_id="m", sequence=0,
        start=start, end=start + timedelta(minutes=45), participant_firms=[],
        attendees=[{"kind": "party", "name": "Pat", "email": f"pat-{unique}@example.org",
                    "time_zone": "Europe/London"},
                   {"kind": "mediator", "name": "Max", "email": mediator, "time_zone": "Europe/London"}])
    async with running("notify", settings):
        await produce(kafka, Topics.SCHEDULING, [as_record(new_event(scheduled, source="/tests"))])
        await wait_for(lambda: relay.mailbox.to(mediator), timeout=30)
    assert relay.mailbox.sessions and all(s == (True, True) for s in relay.mailbox.sessions)

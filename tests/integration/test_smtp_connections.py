"""Notify's mailer keeps SMTP sessions open between messages, and never loses a message to a dropped one."""

import pytest
from aiosmtpd.controller import Controller

from mednet_notify.dispatch import DeliveryError, Mailer
from mednet_notify.messages import Email
from receivers import Mailbox, SmtpServer


class CountingMailbox(Mailbox):
    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address.startswith("refused"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def email_to(address: str, n: int) -> Email:
    return Email(to=address, subject=f"message {n}", text="hello")


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.mailbox = CountingMailbox()
    server.controller = Controller(server.mailbox, hostname="127.0.0.1", port=server.port)
    with server:
        yield server


async def test_messages_share_one_session(smtp):
    mailer = Mailer("127.0.0.1", smtp.port, "mednet@example.org")
    for n in range(5):
        await mailer.send(email_to("party@example.org", n))
    await mailer.close()

    assert [m["Subject"] for m in smtp.mailbox.messages] == [f"message {n}" for n in range(5)]
    assert smtp.mailbox.sessions == 1


async def test_a_session_the_server_dropped_is_replaced_and_the_message_still_goes(smtp):
    mailer = Mailer("127.0.0.1", smtp.port, "mednet@example.org")
    await mailer.send(email_to("party@example.org", 1))
    smtp.controller.stop()
    smtp.controller = Controller(smtp.mailbox, hostname="127.0.0.1", port=smtp.port)
    smtp.controller.start()

    await mailer.send(email_to("party@example.org", 2))
    await mailer.close()

    assert [m["Subject"] for m in smtp.mailbox.messages] == ["message 1", "message 2"]
    assert smtp.mailbox.sessions == 2


async def test_a_refused_message_is_the_jobs_failure_and_the_next_one_goes(smtp):
    mailer = Mailer("127.0.0.1", smtp.port, "mednet@example.org")
    await mailer.send(email_to("party@example.org", 1))

    with pytest.raises(DeliveryError, match="550"):
        await mailer.send(email_to("refused@example.org", 2))
    await mailer.send(email_to("party@example.org", 3))
    await mailer.close()

    assert [m["Subject"] for m in smtp.mailbox.messages] == ["message 1", "message 3"]


async def test_a_server_that_is_down_is_a_delivery_error():
    server = SmtpServer()
    with pytest.raises(DeliveryError, match="SMTP 127.0.0.1"):
        await Mailer("127.0.0.1", server.port, "mednet@example.org").send(email_to("party@example.org", 1))

"""iTIP replies by mail on the real stack: notify's inbound SMTP listener takes a real SMTP client's (smtplib)
reply to an invitation and publishes InvitationReplied on mednet.notify.events; a reply whose UID or attendee is
unknown is refused with a 550 and its reason, and nothing is published."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import UTC, datetime, timedelta
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText


from kafka_helpers import as_record, events_of, produce, read, wait_for
from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.events import CallScheduled
from mednet_shared.contracts.topics import Topics
from receivers import SmtpServer
from services_harness import running, settings_for
from unit.notify.test_replies import reply_ics


def reply_mail(sender: str, ics: bytes) -> bytes:
    message = MIMEMultipart("alternative", _subparts=[
        MIMEText("Declined: I cannot make it.", "plain", "utf-8"),
        MIMEText(ics.decode(), "calendar", "utf-8")])
    message.get_payload()[1].set_param("method", "REPLY")
    message["From"], message["To"], message["Subject"] = sender, "replies@mednet.example.org", "Declined"
    return message.as_bytes()


def send(port: int, sender: str, content: bytes) -> tuple[int, str]:
    """A real SMTP client's session; the server's answer to the message (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        try:
            client.sendmail(sender, ["replies@mednet.example.org"], content)
        except smtplib.SMTPDataError as refused:
            return refused.smtp_code, refused.smtp_error.decode()
        return 250, "ok"


async def test_a_declined_reply_by_mail_is_published_and_an_unknown_one_refused(infrastructure, kafka, unique):
    case_id = f"case-{unique}"
    pat, max_ = f"pat-{unique}@example.org", f"max-{unique}@example.org"
    start = datetime.now(UTC) + timedelta(days=3)
    scheduled = CallScheduled(
        call_id=f"{case_id}:p1", case_id=case_id, party_id="p1", mediator_id="m", sequence=0, start=start,
        end=start + timedelta(minutes=45), participant_firms=[], side_firm_id=f"firm-{unique}"[:30],
        attendees=[{"kind": "party", "name": "Pat", "email": pat, "time_zone": "Asia/Kolkata"},
                   {"kind": "mediator", "name": "Max", "email": max_, "time_zone": "America/New_York"}])
    with SmtpServer() as smtp:
        settings = settings_for("notify", infrastructure, unique, smtp_port=smtp.port,
                                inbound_smtp_host="127.0.0.1", inbound_smtp_port=0)
        async with running("notify", settings) as notify:
            port = notify.state.inbound_smtp.port
            await produce(kafka, Topics.SCHEDULING, [as_record(new_event(scheduled, source="/tests"))])
            await wait_for(lambda: smtp.mailbox.to(pat), timeout=30)

            unknown_uid = await asyncio.to_thread(send, port, pat, reply_mail(pat, reply_ics(
                uid=f"{case_id}:p9", attendee=pat, sequence=0)))
            assert unknown_uid[0] == 550 and f"no call has UID {case_id}:p9" in unknown_uid[1]
            stranger = await asyncio.to_thread(send, port, "eve@elsewhere.example", reply_mail(
                "eve@elsewhere.example", reply_ics(uid=f"{case_id}:p1", attendee="eve@elsewhere.example")))
            assert stranger[0] == 550 and "eve@elsewhere.example is not an attendee" in stranger[1]
            forged = await asyncio.to_thread(send, port, "eve@elsewhere.example", reply_mail(
                "eve@elsewhere.example", reply_ics(uid=f"{case_id}:p1", attendee=pat)))
            assert forged[0] == 550 and "was sent by eve@elsewhere.example" in forged[1]

            declined = await asyncio.to_thread(send, port, pat, reply_mail(pat, reply_ics(
                uid=f"{case_id}:p1", attendee=pat, sequence=0)))
            assert declined == (250, "ok")
            [replied] = {e.id: e for e in await events_of(kafka, Topics.NOTIFY, case_id, "InvitationReplied",
                                                          1)}.values()
            reply = replied.payload()
            assert (reply.call_id, reply.attendee_email, reply.partstat, reply.party_id) == (
                f"{case_id}:p1", pat, "DECLINED", "p1")
            await asyncio.sleep(1)
        published = [CloudEvent.from_bytes(r.value) for r in await read(kafka, Topics.NOTIFY, 10**6, timeout=3)]
        assert len({e.id for e in published if e.subject == case_id and e.type == "mednet.InvitationReplied.v1"}) == 1

"""The emails of the notify service, as plain data: the service sends them, nothing here does."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Literal
from zoneinfo import ZoneInfo

from mednet_shared.contracts.events import (
    BriefReady,
    CallCancelled,
    CallCompleted,
    CallRescheduled,
    CallScheduled,
    ObjectivesRecorded,
    SchedulingFailed,
)
from mednet_shared.contracts.values import Attendee, AttendeeKind, Objective, ObjectiveIssue

from . import invites

REMINDER_LEADS: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
SIGNATURE = "mednet, for your mediator"
ISSUE_LABELS: dict[ObjectiveIssue, str] = {
    ObjectiveIssue.PAYMENT_AMOUNT: "Payment amount",
    ObjectiveIssue.PAYMENT_TIMING: "Payment timing",
    ObjectiveIssue.CONFIDENTIALITY: "Confidentiality",
    ObjectiveIssue.APOLOGY: "Apology",
    ObjectiveIssue.FUTURE_RELATIONSHIP: "Future relationship",
    ObjectiveIssue.REFERENCE: "Reference",
    ObjectiveIssue.NON_MONETARY_TERMS: "Non-monetary terms",
    ObjectiveIssue.COSTS: "Costs",
    ObjectiveIssue.NON_DISPARAGEMENT: "Non-disparagement",
    ObjectiveIssue.OTHER: "Other",
}


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    calendar: bytes | None = None
    calendar_method: Literal["REQUEST", "CANCEL"] | None = None

    def __post_init__(self) -> None:
        if (self.calendar is None) != (self.calendar_method is None):
            raise ValueError("a calendar attachment and its method come together")

    def to_message(self, sender: str, alert_id: str | None = None) -> Message:
        """The email; the same alert_id always gives the same Message-ID, so a resend after a crash is
        recognised by the recipient's mail system as the message it already has. Built with the MIME classes,
        which take a fraction of EmailMessage's time for the same message."""
        message = MIMEText(self.text, "plain", "utf-8")
        if self.calendar is not None:
            calendar = MIMEText(self.calendar.decode("utf-8"), "calendar", "utf-8")
            calendar.set_param("method", self.calendar_method)
            calendar.add_header("Content-Disposition", "attachment", filename="invite.ics")
            message = MIMEMultipart("mixed", _subparts=[message, calendar])
        message["From"] = address_header(sender)
        message["To"] = address_header(self.to)
        message["Subject"] = self.subject if self.subject.isascii() else Header(self.subject, "utf-8")
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id_of(alert_id, sender) if alert_id else make_msgid(domain=domain_of(sender))
        return message


def address_header(address: str) -> str:
    return address if address.isascii() else formataddr(parseaddr(address), "utf-8")


def message_id_of(alert_id: str, sender: str) -> str:
    return f"<{uuid.uuid5(uuid.NAMESPACE_URL, alert_id).hex}@{domain_of(sender)}>"


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


# -- the emails -----------------------------------------------------------------------------------


def invitation(call: CallScheduled | CallRescheduled, recipient: Attendee) -> Email:
    return Email(
        to=recipient.email,
        subject=invitation_subject(call, recipient),
        text=letter(
            recipient,
            f"Your private pre-mediation call is on {local_span_text(call.start, call.end, recipient.time_zone)}.",
            move_text(call, recipient),
            who_takes_part(call.attendees),
            "The calendar invitation is attached.",
        ),
        calendar=invites.invite(call, recipient, mediator_of(call.attendees), summary=call_summary(call.attendees)),
        calendar_method="REQUEST",
    )


def cancellation_notice(call: CallCancelled, recipient: Attendee, start: datetime, end: datetime) -> Email:
    return Email(
        to=recipient.email,
        subject=f"Cancelled: pre-mediation call on {local_time_text(start, recipient.time_zone)}",
        text=letter(
            recipient,
            f"Your private pre-mediation call on {local_span_text(start, end, recipient.time_zone)} is cancelled.",
            reason_text(call.reason),
            "The calendar cancellation is attached.",
        ),
        calendar=invites.cancellation(
            call,
            recipient,
            mediator_of(call.attendees),
            summary=call_summary(call.attendees),
            start=start,
            end=end,
        ),
        calendar_method="CANCEL",
    )


def reminder(call: CallScheduled | CallRescheduled, recipient: Attendee, lead: timedelta) -> Email:
    return Email(
        to=recipient.email,
        subject=f"Reminder: pre-mediation call in {duration_text(lead)}",
        text=letter(
            recipient,
            f"Your private pre-mediation call is on {local_span_text(call.start, call.end, recipient.time_zone)}.",
            who_takes_part(call.attendees),
        ),
    )


def completion_confirmation(call: CallCompleted, recipient: Attendee) -> Email:
    return Email(
        to=recipient.email,
        subject="Pre-mediation call completed",
        text=letter(
            recipient,
            f"Your private pre-mediation call {call.call_id} ended on "
            f"{local_time_text(call.completed_at, recipient.time_zone)}.",
            "Thank you for taking part.",
        ),
    )


def objectives_confirmation(recorded: ObjectivesRecorded, recipient: Attendee) -> Email:
    return Email(
        to=recipient.email,
        subject="Your objectives for the mediation, as recorded",
        text=letter(
            recipient,
            "These are the objectives your side stated in its pre-mediation call, as the mediator recorded them "
            f"on {local_time_text(recorded.recorded_at, recipient.time_zone)}:",
            objectives_text(recorded.objectives),
            "If anything is missing or wrong, please tell the mediator.",
        ),
    )


def brief_ready_notice(ready: BriefReady, mediator: Attendee, brief_url: str) -> Email:
    return Email(
        to=mediator.email,
        subject=f"Mediation brief ready: case {ready.case_id}",
        text=letter(
            mediator,
            f"The brief for case {ready.case_id} is ready. It was prepared on "
            f"{local_time_text(ready.ready_at, mediator.time_zone)}.",
            f"Read it here: {brief_url}",
        ),
    )


def scheduling_failed_notice(failed: SchedulingFailed, recipient: Attendee) -> Email:
    return Email(
        to=recipient.email,
        subject=f"Pre-mediation call could not be scheduled: case {failed.case_id}",
        text=letter(
            recipient,
            f"A pre-mediation call for case {failed.case_id} could not be scheduled.",
            reason_text(failed.reason),
        ),
    )


# -- reminders ------------------------------------------------------------------------------------


def reminder_times(start: datetime, now: datetime) -> list[tuple[timedelta, datetime]]:
    due = [(lead, start - lead) for lead in REMINDER_LEADS if start - lead > now]
    return sorted(due, key=lambda lead_and_due_at: lead_and_due_at[1])


# -- times ----------------------------------------------------------------------------------------


def local_time_text(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{day_text(local)}, {local:%H:%M} ({zone_text(local, zone)})"


def local_span_text(start: datetime, end: datetime, zone: str) -> str:
    local_start, local_end = start.astimezone(ZoneInfo(zone)), end.astimezone(ZoneInfo(zone))
    if local_start.date() != local_end.date() or local_start.utcoffset() != local_end.utcoffset():
        return f"{local_time_text(start, zone)} – {local_time_text(end, zone)}"
    return f"{day_text(local_start)}, {local_start:%H:%M}–{local_end:%H:%M} ({zone_text(local_start, zone)})"


def day_text(local: datetime) -> str:
    return f"{local:%A} {local.day} {local:%B %Y}"


def zone_text(local: datetime, zone: str) -> str:
    return f"{zone}, {utc_offset_text(local)}"


def utc_offset_text(local: datetime) -> str:
    minutes = round(local.utcoffset().total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def duration_text(lead: timedelta) -> str:
    hours, rest = divmod(lead, timedelta(hours=1))
    if rest:
        return plural(lead // timedelta(minutes=1), "minute")
    return plural(hours, "hour")


def plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


# -- text -----------------------------------------------------------------------------------------


def letter(recipient: Attendee, *paragraphs: str) -> str:
    return "\n\n".join([f"Dear {recipient.name},", *filter(None, paragraphs), SIGNATURE]) + "\n"


def invitation_subject(call: CallScheduled | CallRescheduled, recipient: Attendee) -> str:
    when = local_time_text(call.start, recipient.time_zone)
    if isinstance(call, CallRescheduled):
        return f"Rescheduled: pre-mediation call on {when}"
    return f"Pre-mediation call: {when}"


def move_text(call: CallScheduled | CallRescheduled, recipient: Attendee) -> str:
    if not isinstance(call, CallRescheduled):
        return ""
    moved = f"It was moved from {local_time_text(call.previous_start, recipient.time_zone)}."
    return "\n".join(filter(None, [moved, reason_text(call.reason)]))


def reason_text(reason: str) -> str:
    return f"Reason: {reason}" if reason else ""


def who_takes_part(attendees: Sequence[Attendee]) -> str:
    party = invites.attendee_of_kind(attendees, AttendeeKind.PARTY)
    people = "\n".join(f"- {attendee.name} ({attendee.kind})" for attendee in attendees)
    return (
        f"Taking part:\n{people}\n\n"
        f"The call is private: only the mediator and {party.name}'s side take part; the other side is not invited."
    )


def mediator_of(attendees: Iterable[Attendee]) -> Attendee:
    return invites.attendee_of_kind(attendees, AttendeeKind.MEDIATOR)


def call_summary(attendees: Sequence[Attendee]) -> str:
    party = invites.attendee_of_kind(attendees, AttendeeKind.PARTY)
    return f"Pre-mediation call: {mediator_of(attendees).name} and {party.name}'s side"


def objectives_text(objectives: Iterable[Objective]) -> str:
    by_priority = sorted(objectives, key=lambda objective: objective.priority)
    return "\n\n".join(objective_text(objective) for objective in by_priority)


def objective_text(objective: Objective) -> str:
    shared = "yes" if objective.shareable else "no"
    return (
        f"- {issue_label(objective)} (priority {objective.priority}): {objective.wants}\n"
        f"  May be shared with the other side: {shared}"
    )


def issue_label(objective: Objective) -> str:
    if objective.issue is ObjectiveIssue.OTHER and objective.free_issue:
        return objective.free_issue
    return ISSUE_LABELS[objective.issue]

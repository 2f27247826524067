"""The emails of the notify service, as plain data (the domain's Letters port): what each one says, in the
recipient's own time zone. Nothing here sends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mednet_shared.contracts.events import (
    BriefReady,
    CallCancelled,
    CallCompleted,
    CallRescheduled,
    CallScheduled,
    CallSlotsOffered,
    CallWaived,
    ObjectivesRecorded,
    SchedulingFailed,
    SideConfirmationOverdue,
)
from mednet_shared.contracts.values import (Attendee, AttendeeKind, ObjectiveSummary, Place, PlaceKind, Stance,
                                           issue_label)

from . import invites
from .domain import Email, reminder_times

__all__ = ["Email", "reminder_times"]

SIGNATURE = "mednet, for your mediator"


# -- the emails -----------------------------------------------------------------------------------


def invitation(call: CallScheduled | CallRescheduled, recipient: Attendee) -> Email:
    return Email(
        to=recipient.email,
        subject=invitation_subject(call, recipient),
        text=letter(
            recipient,
            f"Your private pre-mediation call is on {local_span_text(call.start, call.end, recipient.time_zone)}.",
            move_text(call, recipient),
            place_text(call.place),
            who_takes_part(call.attendees),
            "The calendar invitation is included in this message.",
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
            "The calendar cancellation is included in this message.",
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
            place_text(call.place),
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


def slots_offered(offer: CallSlotsOffered, recipient: Attendee) -> Email:
    """The options held for this side, in the reader's own zone, each with its one-click link when there is one."""
    zone = recipient.time_zone
    options = "\n".join(
        f"{number}. {local_span_text(slot.start, slot.end, zone)}" + (f"\n   Choose it: {slot.choose_url}"
                                                                     if slot.choose_url else "")
        for number, slot in enumerate(offer.slots, start=1))
    decline = (f"None of these suits you? Decline them and propose other times: {offer.decline_url}"
               if offer.decline_url else "None of these suits you? Tell the mediator, who will offer other times.")
    return Email(
        to=recipient.email,
        subject=f"Choose a time for your pre-mediation call (by {local_time_text(offer.expires_at, zone)})",
        text=letter(
            recipient,
            f"The mediator, {mediator_of(offer.attendees).name}, is holding these times for your side's private "
            f"pre-mediation call (times in {zone}):",
            options,
            decline,
            *([f"Your side's own page (choose a time, your statement, your readiness, your call): {offer.side_url}"]
              if offer.side_url else []),
            f"Please choose by {local_time_text(offer.expires_at, zone)}. Without a choice by then, the first time "
            "is booked and you will receive its invitation.",
        ),
    )


def waived_notice(waived: CallWaived, recipient: Attendee) -> Email:
    return Email(
        to=recipient.email,
        subject="Pre-mediation call will not take place",
        text=letter(
            recipient,
            f"The mediator decided on {local_time_text(waived.waived_at, recipient.time_zone)} that your side's "
            "private pre-mediation call will not take place.",
            reason_text(waived.reason),
        ),
    )


def confirmation_overdue_notice(overdue: SideConfirmationOverdue, mediator: Attendee) -> Email:
    awaited = f"firm {overdue.firm_id}" if overdue.firm_id else "your confirmation of the party's contact"
    return Email(
        to=mediator.email,
        subject=f"A side is still unconfirmed: case {overdue.case_id}",
        text=letter(
            mediator,
            f"Party {overdue.party_id} of case {overdue.case_id} still awaits {awaited}, since "
            f"{local_time_text(overdue.awaiting_since, mediator.time_zone)}.",
            f"The session starts on {local_time_text(overdue.session_start, mediator.time_zone)}; no call can be "
            "offered to this side until it is confirmed.",
        ),
    )


def place_text(place: Place | None) -> str:
    """Where the call happens, as the side reads it."""
    if place is None:
        return ""
    lines = [f"Where: {place.text}"]
    if place.url:
        lines.append(f"Video: {place.url}")
    if place.kind == PlaceKind.PHONE and place.phone:
        lines.append(f"Phone: {place.phone}" + (f", PIN {place.pin}" if place.pin else ""))
    elif place.kind == PlaceKind.CALLBACK and place.phone:
        lines.append(f"The mediator will call you on {place.phone}.")
    return "\n".join(lines)


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


STANCES = {Stance.WANTS: "wants it", Stance.WILLING: "willing to give it", Stance.OPPOSES: "opposes it"}


def objectives_text(objectives: Iterable[ObjectiveSummary]) -> str:
    by_priority = sorted(objectives, key=lambda objective: objective.priority)
    return "\n\n".join(objective_text(objective) for objective in by_priority)


def objective_text(objective: ObjectiveSummary) -> str:
    """The issue, the side's stance and priority: what it wants in words, and any amount, stay sealed in notes."""
    shared = "yes" if objective.shareable else "no"
    return (
        f"- {issue_label(objective.issue, objective.free_issue)} (priority {objective.priority}): "
        f"{STANCES[objective.stance]}\n"
        f"  May be shared with the other side: {shared}"
    )

"""Notify's rules: which event causes which jobs (emails, reminders, webhooks) and which firms hear of it.

`ROUTES` is the one table from event type to what it causes; every subscription and every alert rule is in it.
Everything here is pure: state and the event in, jobs and new state out. How an email reads is the `Letters`
port (messages.py); nothing here sends, stores or renders.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message as MimeMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Annotated, Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from mednet_shared.contracts.envelope import CloudEvent, derived_id
from mednet_shared.contracts.events import (
    BriefReady,
    CallCancelled,
    CallCompleted,
    CallMissed,
    CallOutcomeRecorded,
    CallRescheduled,
    CallScheduled,
    CallSlotsOffered,
    CallWaived,
    CaseOpened,
    CaseRejected,
    CaseUpdated,
    CaseWithdrawn,
    CommandRejected,
    InvitationReplied,
    Message,
    ObjectivesRecorded,
    PreMediationCompleted,
    RepresentationRequested,
    SchedulingFailed,
    SideConfirmationOverdue,
    SideReadinessChanged,
    StatementReceived,
)
from mednet_shared.contracts.values import Attendee, AttendeeKind, Party, Place, Side, SideStatus

REMINDER_LEADS: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
ALWAYS_SENT = ("invitation", "cancellation")
REMINDERS = ("reminder", "readiness-reminder")

Channel = Literal["email", "webhook"]
JobKind = Literal["invitation", "reminder", "cancellation", "completion", "objectives", "brief-ready",
                  "scheduling-failed", "webhook", "slots-offered", "call-waived", "confirmation-overdue",
                  "readiness-reminder"]
CallStatus = Literal["booked", "cancelled", "completed", "missed", "waived", "failed"]
EVERY_SEQUENCE = 2**31  # drop_reminders below this: every reminder of the call
JobStatus = Literal["pending", "sending", "sent", "failed", "dropped"]


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

    def to_message(self, sender: str, alert_id: str | None = None) -> MimeMessage:
        """The email; the same alert_id always gives the same Message-ID, so a resend after a crash is
        recognised by the recipient's mail system as the message it already has. Built with the MIME classes,
        which take a fraction of EmailMessage's time for the same message."""
        message = MIMEText(self.text, "plain", "utf-8")
        if self.calendar is not None:
            # An invitation as mail clients expect it: the calendar is an alternative of the text (RFC 6047), so
            # the client shows it as an invitation instead of an attached file.
            calendar = MIMEText(self.calendar.decode("utf-8"), "calendar", "utf-8")
            calendar.set_param("method", self.calendar_method)
            message = MIMEMultipart("alternative", _subparts=[message, calendar])
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


# -- state ----------------------------------------------------------------------------------------


class State(BaseModel):
    """Notify's own stored state; reads the older shapes too (fields it no longer keeps are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Attempt(State):
    at: datetime
    ok: bool
    error: str | None = None


class Job(State):
    """One alert to deliver: an email (invitation, reminder, ...) to a person or a signed webhook to a firm."""

    id: str = Field(alias="_id")
    channel: Channel
    purpose: JobKind
    recipient: str
    case_id: str
    due_at: datetime
    source_event_id: str
    source_event_type: str
    status: JobStatus = "pending"
    attempt_count: int = 0
    attempts: list[Attempt] = []
    created_at: datetime | None = None
    lease_until: datetime | None = None
    call_id: str | None = None
    sequence: int | None = None
    email: Email | None = None
    firm_id: str | None = None
    endpoint_id: str | None = None
    message_id: str | None = None
    payload: str | None = Field(default=None, description="the webhook body: the event as the firm receives it")


class Notification(State):
    """What anyone may see of a job: no text, no payload."""

    id: str = Field(alias="_id")
    channel: Channel
    purpose: JobKind
    recipient: str
    status: JobStatus
    due_at: datetime
    attempt_count: int = 0


class Due(NamedTuple):
    job_id: str
    channel: str
    firm_id: str


def known_attendee(value: Any) -> Attendee:
    """An attendee of an event already validated, or read back from notify's own state: its address is not
    checked again (that check was most of the cost of reading a case). Anything of another shape is validated."""
    if isinstance(value, Attendee):
        return value
    if isinstance(value, dict) and ATTENDEE_NEEDS <= value.keys() <= ATTENDEE_FIELDS and value["kind"] in KINDS:
        return Attendee.model_construct(**{**value, "kind": AttendeeKind(value["kind"])})
    return Attendee.model_validate(value)


ATTENDEE_FIELDS = frozenset(Attendee.model_fields)
ATTENDEE_NEEDS = frozenset(name for name, info in Attendee.model_fields.items() if info.is_required())
KINDS = frozenset(AttendeeKind)
KnownAttendee = Annotated[Attendee, BeforeValidator(known_attendee)]


class CaseState(State):
    firm_id: str = ""
    participant_firms: list[str] = []
    mediator_id: str = ""
    mediator: KnownAttendee | None = None
    party_firms: dict[str, list[str]] = Field(default={}, description="Per party: its CONFIRMED firm (none: "
                                                                       "unrepresented or not confirmed)")
    sides: list[Side] = []
    people: dict[str, list[KnownAttendee]] = Field(default={}, description="Per party: the party and its attorney")


class CallState(State):
    call_id: str
    case_id: str
    party_id: str = ""
    sequence: int = 0
    start: datetime
    end: datetime
    attendees: list[KnownAttendee]
    side_firm_id: str | None = None
    place: Place | None = None
    status: CallStatus = "booked"


class CallEnded(State):
    """What notify remembers of a call that ended: only its status changes."""

    call_id: str
    status: CallStatus


class Preferences(State):
    email: bool = True
    reminders: bool = True


@dataclass(frozen=True)
class Known:
    """What a rule may use: the event, what earlier events left, and the time."""

    event: CloudEvent
    now: datetime
    case: CaseState | None = None
    call: CallState | None = None
    brief_url: str = ""


@dataclass(frozen=True)
class Alerts:
    jobs: list[Job] = field(default_factory=list)
    drop_reminders: tuple[str, int] | None = None  # (call id, below this sequence): pending reminders dropped


class Letters(Protocol):
    def slots_offered(self, offer: CallSlotsOffered, recipient: Attendee) -> Email: ...
    def waived_notice(self, waived: CallWaived, recipient: Attendee) -> Email: ...
    def confirmation_overdue_notice(self, overdue: SideConfirmationOverdue, mediator: Attendee) -> Email: ...
    def invitation(self, call: CallScheduled | CallRescheduled, recipient: Attendee) -> Email: ...
    def reminder(self, call: CallScheduled | CallRescheduled, recipient: Attendee, lead: timedelta) -> Email: ...
    def cancellation_notice(self, call: CallCancelled, recipient: Attendee, start: datetime,
                            end: datetime) -> Email: ...
    def completion_confirmation(self, call: CallCompleted, recipient: Attendee) -> Email: ...
    def objectives_confirmation(self, recorded: ObjectivesRecorded, recipient: Attendee) -> Email: ...
    def brief_ready_notice(self, ready: BriefReady, mediator: Attendee, brief_url: str) -> Email: ...
    def scheduling_failed_notice(self, failed: SchedulingFailed, recipient: Attendee) -> Email: ...


# -- email jobs -----------------------------------------------------------------------------------


def email_job(known: Known, case_id: str, purpose: JobKind, email: Email, *, due_at: datetime | None = None,
              key: str | None = None, call_id: str | None = None, sequence: int | None = None) -> Job:
    event = known.event
    return Job(id=key or f"{event.id}:email:{email.to.lower()}", channel="email", purpose=purpose,
               recipient=email.to, case_id=case_id, call_id=call_id, sequence=sequence,
               due_at=due_at or known.now, created_at=known.now, source_event_id=event.id,
               source_event_type=event.type, email=email)


def reminder_times(start: datetime, now: datetime) -> list[tuple[timedelta, datetime]]:
    """24 h and 1 h before the call, those still ahead."""
    due = [(lead, start - lead) for lead in REMINDER_LEADS if start - lead > now]
    return sorted(due, key=lambda lead_and_due_at: lead_and_due_at[1])


def unchanged(call: CallScheduled | CallRescheduled, known: Known) -> bool:
    """A reschedule that leaves the call where it was: nothing to tell anyone, no reminder to move."""
    if not isinstance(call, CallRescheduled):
        return False
    prior = known.call
    if prior is not None and prior.status == "booked" and prior.sequence < call.sequence:
        return prior.start == call.start and prior.end == call.end
    # nothing older known, or this very event again (its state already remembered): what the event itself says
    return call.previous_start == call.start and (prior is None or prior.end == call.end)


def invitations_and_reminders(call: CallScheduled | CallRescheduled, known: Known, letters: Letters) -> Alerts:
    """Each attendee's invitation now and reminders before the call; a new sequence drops the older reminders.
    A reschedule to the same time sends nothing and drops nothing."""
    if unchanged(call, known):
        return Alerts()
    if call.place is None and known.call is not None and known.call.place is not None:
        call = call.model_copy(update={"place": known.call.place})  # a call keeps its place through reschedules
    jobs = []
    for attendee in call.attendees:
        jobs.append(email_job(known, call.case_id, "invitation", letters.invitation(call, attendee),
                              call_id=call.call_id, sequence=call.sequence))
        for lead, due in reminder_times(call.start, known.now):
            key = f"{call.call_id}:{call.sequence}:reminder-{int(lead.total_seconds())}:{attendee.email.lower()}"
            jobs.append(email_job(known, call.case_id, "reminder", letters.reminder(call, attendee, lead),
                                  due_at=due, key=key, call_id=call.call_id, sequence=call.sequence))
    return Alerts(jobs, (call.call_id, call.sequence) if call.sequence > 0 else None)


def cancellations(call: CallCancelled, known: Known, letters: Letters) -> Alerts:
    """A cancellation for each attendee (when the call's time is known) and none of its reminders; never for a
    call that took place."""
    if known.call is not None and known.call.status not in ("booked", "missed"):
        return Alerts(drop_reminders=(call.call_id, EVERY_SEQUENCE))  # completed, or already out of the calendars
    start = call.start or (known.call.start if known.call else None)
    end = call.end or (known.call.end if known.call else None)
    if call.place is None and known.call is not None and known.call.place is not None:
        call = call.model_copy(update={"place": known.call.place})
    jobs = [] if start is None or end is None else [
        email_job(known, call.case_id, "cancellation", letters.cancellation_notice(call, a, start, end))
        for a in call.attendees]
    return Alerts(jobs, (call.call_id, call.sequence + 1))


def completions(call: CallCompleted, known: Known, letters: Letters) -> Alerts:
    return Alerts([email_job(known, call.case_id, "completion", letters.completion_confirmation(call, a))
                   for a in attendees_of(known)], (call.call_id, EVERY_SEQUENCE))


def reminders_dropped(message: CallMissed, known: Known, letters: Letters) -> Alerts:
    return Alerts(drop_reminders=(message.call_id, EVERY_SEQUENCE))


def side_people(attendees: Iterable[Attendee]) -> list[Attendee]:
    return [a for a in attendees if a.kind in (AttendeeKind.PARTY, AttendeeKind.ATTORNEY)]


def slots_offered(offer: CallSlotsOffered, known: Known, letters: Letters) -> Alerts:
    """The party and its attorney, each with the options in their own zone; the mediator holds the slots."""
    return Alerts([email_job(known, offer.case_id, "slots-offered", letters.slots_offered(offer, a),
                             key=f"{offer.call_id}:offer:{offer.offer_id}:{a.email.lower()}", call_id=offer.call_id)
                   for a in side_people(offer.attendees)])


def waived(message: CallWaived, known: Known, letters: Letters) -> Alerts:
    """That side's party and attorney; a booked call is cancelled in their calendars first."""
    people = side_people(attendees_of(known)) or side_people(
        known.case.people.get(message.party_id, []) if known.case else [])
    jobs = [email_job(known, message.case_id, "call-waived", letters.waived_notice(message, a)) for a in people]
    if known.call is not None and known.call.status in ("booked", "missed"):
        jobs += ended_without_taking_place(known.call, message.reason, message.mediator_id, known, letters)
    return Alerts(jobs, (message.call_id, EVERY_SEQUENCE))


def ended_without_taking_place(state: CallState, reason: str, mediator_id: str, known: Known,
                               letters: Letters) -> list[Job]:
    """The calendar cancellation of a booked call that will not happen (failed, waived), to its attendees."""
    cancelled = CallCancelled(call_id=state.call_id, case_id=state.case_id, party_id=state.party_id,
                              mediator_id=mediator_id, sequence=state.sequence + 1, reason=reason,
                              attendees=state.attendees, participant_firms=[], start=state.start, end=state.end,
                              side_firm_id=state.side_firm_id, place=state.place)
    return [email_job(known, state.case_id, "cancellation",
                      letters.cancellation_notice(cancelled, a, state.start, state.end),
                      key=f"{state.call_id}:{state.sequence}:ended:{a.email.lower()}", call_id=state.call_id,
                      sequence=cancelled.sequence)
            for a in state.attendees]


def confirmation_overdue(overdue: SideConfirmationOverdue, known: Known, letters: Letters) -> Alerts:
    mediator = known.case.mediator if known.case else None
    return Alerts([email_job(known, overdue.case_id, "confirmation-overdue",
                             letters.confirmation_overdue_notice(overdue, mediator))] if mediator else [])


def objectives_confirmations(recorded: ObjectivesRecorded, known: Known, letters: Letters) -> Alerts:
    """Only the side whose objectives they are."""
    own_side = [a for a in attendees_of(known) if a.kind in (AttendeeKind.PARTY, AttendeeKind.ATTORNEY)]
    return Alerts([email_job(known, recorded.case_id, "objectives", letters.objectives_confirmation(recorded, a))
                   for a in own_side])


def brief_ready(ready: BriefReady, known: Known, letters: Letters) -> Alerts:
    mediator = known.case.mediator if known.case else None
    url = known.brief_url.format(case_id=ready.case_id)
    return Alerts([email_job(known, ready.case_id, "brief-ready", letters.brief_ready_notice(ready, mediator, url))]
                  if mediator else [])


def scheduling_failed(failed: SchedulingFailed, known: Known, letters: Letters) -> Alerts:
    """The mediator, with the reason; a call that was booked (or missed) is cancelled in its attendees' calendars."""
    mediator = known.case.mediator if known.case else None
    jobs = [email_job(known, failed.case_id, "scheduling-failed",
                      letters.scheduling_failed_notice(failed, mediator))] if mediator else []
    state = known.call
    if failed.call_id and state is not None and state.status in ("booked", "missed"):
        jobs += ended_without_taking_place(state, failed.reason, failed.mediator_id, known, letters)
    return Alerts(jobs, (failed.call_id, EVERY_SEQUENCE) if failed.call_id else None)


def no_alerts(message: Message, known: Known, letters: Letters) -> Alerts:
    return Alerts()


def attendees_of(known: Known) -> list[Attendee]:
    return list(known.call.attendees) if known.call else []


def wanted(jobs: Iterable[Job], preferences: Mapping[str, Preferences]) -> list[Job]:
    """Calendar invites and cancellations always go (calendars must stay right); other emails only if the
    recipient wants email; reminders only if they want reminders too."""
    def goes(job: Job) -> bool:
        choice = preferences.get(job.recipient) or Preferences()
        if job.purpose in ALWAYS_SENT:
            return True
        return choice.email and (job.purpose not in REMINDERS or choice.reminders)

    return [job for job in jobs if goes(job)]


def claimed(jobs: Iterable[Job], now: datetime, lease_until: datetime) -> list[Job]:
    """Jobs due now are written already claimed by the writer, which sends them at once."""
    return [job.model_copy(update={"status": "sending", "lease_until": lease_until}) if job.due_at <= now else job
            for job in jobs]


def next_try(attempts: int, max_attempts: int, backoff_seconds: float, backoff_max_seconds: float, now: datetime,
             jitter: float = 1.0) -> datetime | None:
    """When a job that failed `attempts` times is tried again (exponential backoff, jittered), or None: it failed."""
    if attempts >= max_attempts:
        return None
    delay = min(backoff_max_seconds, backoff_seconds * 2 ** (attempts - 1))
    return now + timedelta(seconds=delay * jitter)


# -- firms ----------------------------------------------------------------------------------------
# A side's data goes to that side's own confirmed firm only; the submitting firm is one side like any other.


def participants(message: CaseOpened | CaseUpdated | CaseWithdrawn | PreMediationCompleted,
                 case: CaseState | None) -> set[str]:
    return set(message.participant_firms)


PER_SIDE_CHANGES = frozenset({"availability_changed", "side_confirmed", "side_declined", "side_corrected"})


def case_update_firms(message: CaseUpdated, case: CaseState | None) -> set[str]:
    """Every participant firm, except that a change about some sides only (their availability, confirmation,
    correction) reaches the submitting firm and those sides' own firms, not the others."""
    firms = set(message.participant_firms)
    if message.party_ids and set(message.changes) <= PER_SIDE_CHANGES:
        confirmed = confirmed_side_firms(message.parties, message.sides)
        firms &= {message.firm_id} | {confirmed.get(party) for party in message.party_ids} - {None}
    return firms


def submitter(message: CaseRejected, case: CaseState | None) -> set[str]:
    return {message.firm_id}


def addressed_firm(message: CommandRejected | RepresentationRequested, case: CaseState | None) -> set[str]:
    """The one firm the event is for: the sender of a refused command, the firm asked to represent a party."""
    return {message.firm_id}


def party_firm(message: ObjectivesRecorded, case: CaseState | None) -> set[str]:
    if not message.party_firm_id:
        return set()
    return {message.party_firm_id} & confirmed_firms(case, message.party_id, {message.party_firm_id})


def side_or_submitter(message: SchedulingFailed, case: CaseState | None) -> set[str]:
    """A side's failure to its side only; a failure of the whole case to the submitting firm."""
    return side_firms(message, case) if message.party_id else {message.firm_id}


def side_firms(message: Message, case: CaseState | None) -> set[str]:
    """The side's own firm: the event's side_firm_id; for events from before sides existed, the firm of the call's
    attorney (or party) or of the party's attorney, checked against the case's confirmed sides when it has any."""
    explicit = getattr(message, "side_firm_id", None)
    if explicit:
        return {explicit}
    party_id = getattr(message, "party_id", None) or ""
    attendees = getattr(message, "attendees", None) or []
    derived = {a.firm_id for a in attendees if a.kind == AttendeeKind.ATTORNEY and a.firm_id} or {
        a.firm_id for a in attendees if a.kind == AttendeeKind.PARTY and a.firm_id}
    if not derived and case is not None:
        derived = set(case.party_firms.get(party_id, []))
    return derived & confirmed_firms(case, party_id, derived)


def confirmed_firms(case: CaseState | None, party_id: str, otherwise: set[str]) -> set[str]:
    """The party's confirmed firm as the case says; before sides existed (or unknown case): `otherwise`."""
    if case is None or not case.sides:
        return otherwise
    return set(case.party_firms.get(party_id, []))


def no_firms(message: Message, case: CaseState | None) -> set[str]:
    return set()


def submitting_firm(case: CaseState | None) -> set[str]:
    return {case.firm_id} if case and case.firm_id else set()


def party_firms_of(case: CaseState | None, party_id: str) -> set[str]:
    return set(case.party_firms.get(party_id, [])) if case else set()


def confirmed_side_firms(parties: Sequence[Party], sides: Sequence[Side]) -> dict[str, str | None]:
    """Per party: its confirmed firm, None when unrepresented or unconfirmed. No sides: every side confirmed,
    its firm the attorney's."""
    if not sides:
        return {p.party_id: p.attorney.firm_id if p.attorney else None for p in parties}
    by_party = {side.party_id: side for side in sides}
    return {p.party_id: (side.firm_id if (side := by_party.get(p.party_id)) and
                         side.status == SideStatus.CONFIRMED else None) for p in parties}


# -- memory of earlier events ---------------------------------------------------------------------


def party_firm_map(message: CaseOpened | CaseUpdated) -> dict[str, list[str]]:
    """Per party, its confirmed firm only."""
    return {party: [firm] for party, firm in confirmed_side_firms(message.parties, message.sides).items() if firm}


def people_of(parties: Sequence[Party]) -> dict[str, list[Attendee]]:
    people: dict[str, list[Attendee]] = {}
    for p in parties:
        firm = p.attorney.firm_id if p.attorney else None
        people[p.party_id] = [known_attendee({"kind": AttendeeKind.PARTY, "name": p.contact.name,
                                              "email": p.contact.email, "time_zone": p.time_zone, "firm_id": firm})]
        if p.attorney:
            people[p.party_id].append(known_attendee({"kind": AttendeeKind.ATTORNEY, "name": p.attorney.name,
                                                      "email": p.attorney.email, "firm_id": firm,
                                                      "time_zone": p.attorney.time_zone or p.time_zone}))
    return people


def opened(message: CaseOpened) -> CaseState:
    mediator = known_attendee({"kind": AttendeeKind.MEDIATOR, "name": message.mediator.name,
                               "email": message.mediator.email, "time_zone": message.mediator.time_zone})
    return CaseState(firm_id=message.firm_id, participant_firms=message.participant_firms,
                     mediator_id=message.mediator.mediator_id, mediator=mediator,
                     party_firms=party_firm_map(message), sides=message.sides, people=people_of(message.parties))


def updated(message: CaseUpdated) -> CaseState:
    """Only the fields a CaseUpdated changes are set (the rest stays as CaseOpened left it)."""
    return CaseState(participant_firms=message.participant_firms, party_firms=party_firm_map(message),
                     sides=message.sides, people=people_of(message.parties))


def booked(message: CallScheduled | CallRescheduled) -> CallState:
    return CallState(call_id=message.call_id, case_id=message.case_id, party_id=message.party_id,
                     sequence=message.sequence, start=message.start, end=message.end, attendees=message.attendees,
                     side_firm_id=message.side_firm_id, place=message.place, status="booked")


def ended(status: CallStatus) -> Callable[[Message], CallEnded | None]:
    def remember(message: Message) -> CallEnded | None:
        call_id = getattr(message, "call_id", None)
        return CallEnded(call_id=call_id, status=status) if call_id else None
    return remember


def forget_nothing(message: Message) -> None:
    return None


# -- the routing table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    alerts: Callable[..., Alerts] = no_alerts
    firms: Callable[..., set[str]] = no_firms
    remember: Callable[..., CaseState | CallState | CallEnded | None] = forget_nothing
    case_for_alerts: bool = False  # the alerts read the case's state (its mediator)
    case_for_firms: bool = False  # the firms are found from the case's state (submitter, party firms)
    needs_call: bool = False  # the alerts read the call's state (its attendees, its time)


ROUTES: dict[type[Message], Route] = {
    CaseOpened: Route(firms=participants, remember=opened),
    CaseUpdated: Route(firms=case_update_firms, remember=updated),
    CaseRejected: Route(firms=submitter),
    CaseWithdrawn: Route(firms=participants, case_for_firms=True),
    RepresentationRequested: Route(firms=addressed_firm),
    SideConfirmationOverdue: Route(confirmation_overdue, case_for_alerts=True),
    CommandRejected: Route(firms=addressed_firm),
    CallSlotsOffered: Route(slots_offered, side_firms, case_for_firms=True),
    CallScheduled: Route(invitations_and_reminders, side_firms, booked, case_for_firms=True),
    CallRescheduled: Route(invitations_and_reminders, side_firms, booked, case_for_firms=True, needs_call=True),
    CallCancelled: Route(cancellations, side_firms, ended("cancelled"), case_for_firms=True, needs_call=True),
    CallCompleted: Route(completions, side_firms, ended("completed"), case_for_firms=True, needs_call=True),
    CallMissed: Route(reminders_dropped, side_firms, ended("missed"), case_for_firms=True),
    CallWaived: Route(waived, side_firms, ended("waived"), case_for_alerts=True, case_for_firms=True,
                      needs_call=True),
    SchedulingFailed: Route(scheduling_failed, side_or_submitter, ended("failed"), case_for_alerts=True,
                            case_for_firms=True, needs_call=True),
    PreMediationCompleted: Route(firms=participants, case_for_firms=True),
    ObjectivesRecorded: Route(objectives_confirmations, party_firm, case_for_firms=True, needs_call=True),
    BriefReady: Route(brief_ready, case_for_alerts=True),
    StatementReceived: Route(firms=side_firms, case_for_firms=True),
    SideReadinessChanged: Route(firms=side_firms, case_for_firms=True),
    CallOutcomeRecorded: Route(firms=side_firms, case_for_firms=True),
}


def route_of(message: Message) -> Route:
    return ROUTES.get(type(message), Route())


def firms_for(message: Message, case: CaseState | None) -> set[str]:
    return route_of(message).firms(message, case)


# -- iTIP replies ---------------------------------------------------------------------------------


class RefusedReply(ValueError):
    """A reply that changes nothing, with the reason (the SMTP 550 text, the HTTP 422 detail)."""


@dataclass(frozen=True)
class ParsedReply:
    uid: str
    sequence: int
    attendee_email: str
    partstat: str
    proposed: list[tuple[datetime, datetime]] = field(default_factory=list)
    comment: str = ""
    stamp: str = ""


REPLY_PARTSTATS = ("ACCEPTED", "TENTATIVE", "DECLINED", "COUNTER")


def reply_to_call(reply: ParsedReply, call: CallState | None, now: datetime,
                  sender: str | None = None) -> InvitationReplied:
    """A reply to a call notify invited people to, from one of that call's own attendees (not the organizer):
    InvitationReplied; anything else RefusedReply with the reason. `sender` (the email's From, when the reply came
    by mail) must be the attendee."""
    if call is None:
        raise RefusedReply(f"no call has UID {reply.uid}")
    invited = {a.email.lower(): a for a in call.attendees if a.kind != AttendeeKind.MEDIATOR}
    if reply.attendee_email not in invited:
        raise RefusedReply(f"{reply.attendee_email} is not an attendee of call {reply.uid}")
    if sender is not None and sender.lower() != reply.attendee_email:
        raise RefusedReply(f"the reply for {reply.attendee_email} was sent by {sender or 'nobody named'}")
    if reply.partstat not in REPLY_PARTSTATS:
        raise RefusedReply(f"PARTSTAT {reply.partstat or 'missing'} is not one of {', '.join(REPLY_PARTSTATS)}")
    if call.status != "booked":
        raise RefusedReply(f"call {reply.uid} is {call.status}, no longer booked")
    return InvitationReplied(case_id=call.case_id, call_id=call.call_id, party_id=call.party_id,
                             sequence=reply.sequence, attendee_email=reply.attendee_email,
                             partstat=reply.partstat, comment=reply.comment, received_at=now,
                             proposed=[{"start": start, "end": end} for start, end in reply.proposed])


# -- webhooks -------------------------------------------------------------------------------------


def webhook_payload(event: CloudEvent) -> str:
    return json.dumps(event.model_dump(mode="json", exclude_none=True), separators=(",", ":"))


def webhook_jobs(known: Known, message: Message, endpoints: Sequence[tuple[str, str]],
                 projected: Mapping[str, CloudEvent]) -> list[Job]:
    """One job per enabled endpoint (id, firm) of the firms the event is projected for."""
    event = known.event
    case_id = getattr(message, "case_id", "") or event.subject
    return [Job(id=f"{event.id}:webhook:{endpoint_id}", channel="webhook", purpose="webhook",
                recipient=endpoint_id, firm_id=firm_id, endpoint_id=endpoint_id,
                message_id=derived_id(projected[firm_id].id, endpoint_id), payload=webhook_payload(projected[firm_id]),
                case_id=case_id, due_at=known.now, created_at=known.now, source_event_id=event.id,
                source_event_type=event.type)
            for endpoint_id, firm_id in endpoints]

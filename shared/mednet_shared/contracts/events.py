"""Integration events (v1) and firm commands: the public surface of the network."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from .topics import Topics
from .values import (
    Attendee,
    Contract,
    DateWindow,
    Email,
    FirmId,
    Identifier,
    LongText,
    Mediator,
    Attorney,
    Contact,
    ObjectiveSummary,
    OfferedSlot,
    Party,
    PartyRole,
    Place,
    ReadinessItem,
    ReadinessMark,
    ReceivedDocument,
    Reason,
    SchedulingPolicy,
    Session,
    ShortText,
    Side,
    SideOutstanding,
    TimeZoneName,
    WeeklyWindow,
)


class Message(Contract):
    """An event or command. Its CloudEvents type is mednet.<Name>.v<version>."""

    version: ClassVar[int] = 1
    topic: ClassVar[str] = ""

    @classmethod
    def type_name(cls) -> str:
        return f"mednet.{cls.__name__}.v{cls.version}"

    def subject(self) -> str:
        return self.case_id  # type: ignore[attr-defined]


class Command(Message):
    """Sent by a firm on its inbound topic; strict, so a typo is an error rather than a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# -- intake ---------------------------------------------------------------------------------------


class CaseOpened(Message):
    topic: ClassVar[str] = Topics.INTAKE
    case_id: Identifier
    firm_id: FirmId
    external_ref: Identifier
    title: ShortText
    mediator: Mediator
    session: Session
    parties: list[Party] = Field(min_length=2)
    policy: SchedulingPolicy
    participant_firms: list[FirmId] = Field(description="The submitting firm and every firm whose side is confirmed")
    sides: list[Side] = Field(default_factory=list, description="Each party's side; before sides existed: all "
                                                                "confirmed")


CaseChange = Literal["session_moved", "party_added", "availability_changed", "side_confirmed", "side_declined",
                     "side_corrected"]


class CaseUpdated(Message):
    topic: ClassVar[str] = Topics.INTAKE
    case_id: Identifier
    firm_id: FirmId
    revision: int = Field(ge=1)
    changes: list[CaseChange] = Field(min_length=1)
    session: Session
    parties: list[Party] = Field(min_length=2)
    participant_firms: list[FirmId]
    sides: list[Side] = Field(default_factory=list)
    party_ids: list[Identifier] = Field(default_factory=list, description="The parties the change is about")


class RepresentationRequested(Message):
    """To the firm named as representing a party: accept (AcceptRepresentation) or decline. Carries the case-level
    facts and the party's name and role only, nothing else of any side."""

    topic: ClassVar[str] = Topics.INTAKE
    case_id: Identifier
    firm_id: FirmId = Field(description="The firm asked to confirm")
    party_id: Identifier
    role: PartyRole
    party_name: ShortText
    mediator_name: ShortText
    session: Session
    requested_at: AwareDatetime


class SideConfirmationOverdue(Message):
    """A side is still unconfirmed close to the session; for the mediator to act on."""

    topic: ClassVar[str] = Topics.INTAKE
    case_id: Identifier
    mediator_id: Identifier
    party_id: Identifier
    firm_id: FirmId | None = None
    awaiting_since: AwareDatetime
    session_start: AwareDatetime


class CommandRejected(Message):
    """A firm's command that was refused or invalid, back to its sender (mednet.firm.<firm>.outbound): every reason
    and the command's id. Published by the service that refused it."""

    topic: ClassVar[str] = Topics.INTAKE
    firm_id: FirmId = Field(description="The sender: the firm of the inbound topic")
    command_id: str = Field(max_length=200, description="The CloudEvent id of the command")
    command_type: str = Field(max_length=200, description="Its CloudEvent type, as sent")
    case_id: str = Field(default="", max_length=128, description="The case the command named, if any")
    reasons: list[Reason] = Field(min_length=1)
    dead_letter_topic: str | None = Field(default=None, description="Where the record was dead-lettered, if it was")
    record: str | None = Field(default=None, max_length=40, description=(
        "A dead-lettered record's place on the firm's inbound topic, '<partition>@<offset>' (the only way to match "
        "a record that carries no readable id)"))
    rejected_at: AwareDatetime

    def subject(self) -> str:
        """The Kafka key: the case id; for a command that names no case, its id (else its record)."""
        return self.case_id or self.command_id or f"record {self.record}"


class CaseRejected(Message):
    topic: ClassVar[str] = Topics.INTAKE
    firm_id: FirmId
    external_ref: str = Field(description="The submission's reference as sent, possibly invalid")
    case_id: str | None = Field(default=None, description="None: the submission never became a case")
    reasons: list[Reason] = Field(min_length=1)

    def subject(self) -> str:
        """The Kafka key: the firm's own reference (a rejected submission has no case id); without one, the firm."""
        return self.case_id or self.external_ref or self.firm_id


class CaseWithdrawn(Message):
    topic: ClassVar[str] = Topics.INTAKE
    case_id: Identifier
    firm_id: FirmId
    reason: LongText = ""
    participant_firms: list[FirmId]


# -- scheduling -----------------------------------------------------------------------------------


class CallEvent(Message):
    topic: ClassVar[str] = Topics.SCHEDULING
    call_id: Identifier
    case_id: Identifier
    party_id: Identifier
    mediator_id: Identifier
    sequence: int = Field(ge=0, description="Bumped on every change of the call; iCalendar SEQUENCE")


class CallScheduled(CallEvent):
    start: AwareDatetime
    end: AwareDatetime
    attendees: list[Attendee] = Field(min_length=2)
    participant_firms: list[FirmId]
    side_firm_id: FirmId | None = Field(default=None, description="The side's confirmed firm; None: unrepresented")
    place: Place | None = Field(default=None, description="Where the call happens; the same for all its sequences")
    booked_by: Literal["choice", "deadline", "mediator", "system"] = "system"


class CallRescheduled(CallScheduled):
    previous_start: AwareDatetime
    reason: LongText = ""


class CallCancelled(CallEvent):
    reason: LongText = ""
    attendees: list[Attendee] = Field(min_length=2)
    participant_firms: list[FirmId]
    start: AwareDatetime | None = Field(default=None, description="When the cancelled call was to start")
    end: AwareDatetime | None = None
    side_firm_id: FirmId | None = None
    place: Place | None = None


class CallWaived(CallEvent):
    """The mediator decided this side's call will not take place; the case can complete without it."""

    reason: LongText = Field(min_length=1)
    waived_at: AwareDatetime
    participant_firms: list[FirmId]
    side_firm_id: FirmId | None = None


class CallSlotsOffered(CallEvent):
    """N slots held on the mediator's calendar for one side to choose from, until expires_at."""

    offer_id: Identifier
    slots: list[OfferedSlot] = Field(min_length=1, max_length=10)
    expires_at: AwareDatetime = Field(description="Without a choice by then, the first slot is booked")
    attendees: list[Attendee] = Field(min_length=2)
    participant_firms: list[FirmId]
    side_firm_id: FirmId | None = None
    decline_url: str | None = Field(default=None, max_length=2000,
                                    description="Signed link to decline all and propose other windows")
    side_url: str | None = Field(default=None, max_length=2000,
                                 description="Signed link to the side's own console pages (choose, statement, "
                                             "readiness, its call), valid for this side of this case only")


class CallCompleted(CallEvent):
    completed_at: AwareDatetime
    participant_firms: list[FirmId]
    side_firm_id: FirmId | None = None


class CallMissed(CallEvent):
    missed_count: int = Field(ge=1)
    participant_firms: list[FirmId]
    side_firm_id: FirmId | None = None


class SchedulingFailed(Message):
    topic: ClassVar[str] = Topics.SCHEDULING
    case_id: Identifier
    firm_id: FirmId
    mediator_id: Identifier
    party_id: Identifier | None = None
    call_id: Identifier | None = None
    reason: LongText
    participant_firms: list[FirmId]
    side_firm_id: FirmId | None = None


class PreMediationCompleted(Message):
    topic: ClassVar[str] = Topics.SCHEDULING
    case_id: Identifier
    mediator_id: Identifier
    call_ids: list[Identifier] = Field(min_length=1, description="The calls completed")
    waived_call_ids: list[Identifier] = Field(default_factory=list)
    completed_at: AwareDatetime
    participant_firms: list[FirmId]


# -- notes ----------------------------------------------------------------------------------------


class ObjectivesRecorded(Message):
    """The issues, stances and priorities the party stated, never its words or amounts (sealed in notes);
    delivered to that party's own side only."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    call_id: Identifier
    party_id: Identifier
    party_firm_id: FirmId | None = Field(default=None, description="The firm of the party's own attorney")
    objectives: list[ObjectiveSummary] = Field(min_length=1, max_length=50)
    recorded_at: AwareDatetime


class BriefReady(Message):
    """Mediator-only: says the brief can be read from the notes service; carries none of its content."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    mediator_id: Identifier
    party_ids: list[Identifier] = Field(min_length=2)
    ready_at: AwareDatetime


class StatementReceived(Message):
    """The receipt of a side's pre-call statement, for that side only: what was received, never its content."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    party_id: Identifier
    side_firm_id: FirmId | None = Field(default=None, description="The side's confirmed firm; None: unrepresented")
    statement_version: int = Field(ge=1, description="The version of this side's statement; the latest is read")
    parts: list[Literal["interests", "concerns", "desired_outcomes", "questions"]] = Field(
        default_factory=list, description="Which parts of the statement were given (not what they say)")
    documents: list[ReceivedDocument] = Field(default_factory=list, max_length=20)
    received_at: AwareDatetime


class SideReadinessChanged(Message):
    """A side's readiness checklist changed: for the case's mediator and that side's firm only."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    party_id: Identifier
    side_firm_id: FirmId | None = None
    mediator_id: Identifier
    item: ReadinessItem
    done: bool
    set_by: Literal["firm", "mediator"]
    marks: list[ReadinessMark] = Field(default_factory=list, description="The side's whole checklist so far")
    outstanding: list[ReadinessItem] = Field(default_factory=list, description="Required items not done yet")
    ready: bool
    changed_at: AwareDatetime


class CallOutcomeRecorded(Message):
    """How a side's call went, its non-confidential part only, for that side's firm (and the mediator)."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    call_id: Identifier
    party_id: Identifier
    side_firm_id: FirmId | None = None
    outcome: Literal["held", "partly_held", "not_held"]
    items_confirmed: list[ReadinessItem] = Field(default_factory=list)
    next_step: LongText = Field(default="", description="What was agreed next, e.g. documents by a date")
    next_step_due: AwareDatetime | None = None
    recorded_at: AwareDatetime


class CaseReadyForSession(Message):
    """Every side still to be heard has done every required readiness item (once per case)."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    mediator_id: Identifier
    party_ids: list[Identifier] = Field(min_length=1)
    ready_at: AwareDatetime


class ReadinessRequired(Message):
    """Each side's outstanding readiness items and the session's start: when notes first learns of a case and
    whenever either changes (required items set, a side added or confirmed, the session moved). For notify's
    readiness reminders; no firm receives it."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    mediator_id: Identifier
    session_start: AwareDatetime | None = None
    required_items: list[ReadinessItem] = Field(default_factory=list)
    sides: list[SideOutstanding] = Field(default_factory=list, description="The sides still to be heard")
    set_at: AwareDatetime


# -- notify ---------------------------------------------------------------------------------------


class InvitationReplied(Message):
    """An attendee's iTIP REPLY (RFC 5546) to a call's invitation, received by mail or uploaded over HTTP."""

    topic: ClassVar[str] = Topics.NOTIFY
    case_id: Identifier
    call_id: Identifier
    party_id: Identifier
    sequence: int = Field(ge=0)
    attendee_email: Email
    partstat: Literal["ACCEPTED", "TENTATIVE", "DECLINED", "COUNTER"]
    proposed: list[DateWindow] = Field(default_factory=list, max_length=10,
                                       description="COUNTER: the time the attendee proposes")
    comment: LongText = ""
    received_at: AwareDatetime


class ReadinessReminder(Message):
    """Days before the session, to one side's own firm: that side's readiness items still outstanding."""

    topic: ClassVar[str] = Topics.NOTIFY
    case_id: Identifier
    party_id: Identifier
    side_firm_id: FirmId | None = Field(default=None, description="The side's confirmed firm; None: unrepresented")
    session_start: AwareDatetime
    days_before: int = Field(ge=1)
    outstanding: list[ReadinessItem] = Field(min_length=1)
    reminded_at: AwareDatetime = Field(description="When the reminder was due (the same in every copy of it)")


class NotificationOutcome(Message):
    topic: ClassVar[str] = Topics.NOTIFY
    notification_id: Identifier
    case_id: str = Field(description="The case, or the rejected submission's subject")
    source_event_id: str
    source_event_type: str
    channel: Literal["email", "webhook", "firm_stream"]
    recipient: str = Field(description="An email address, a firm id or a webhook endpoint id")
    kind: str


class NotificationSent(NotificationOutcome):
    sent_at: AwareDatetime


class NotificationFailed(NotificationOutcome):
    error: LongText
    attempts: int = Field(ge=1)
    failed_at: AwareDatetime


# -- firm commands (mednet.firm.<firm_id>.inbound; the firm is the topic's, never the payload's) ----


class SubmitCase(Command):
    external_ref: Identifier
    title: ShortText
    mediator: Mediator
    session: Session
    parties: list[Party] = Field(min_length=2, max_length=20)
    policy: SchedulingPolicy = SchedulingPolicy()

    def subject(self) -> str:
        return self.external_ref


class UpdatePartyAvailability(Command):
    case_id: Identifier
    party_id: Identifier
    availability: list[WeeklyWindow] = Field(min_length=1, max_length=50)
    unavailable: list[DateWindow] = Field(default_factory=list, max_length=100)


class RequestReschedule(Command):
    case_id: Identifier
    party_id: Identifier
    reason: LongText = ""
    not_before: AwareDatetime | None = None


class WithdrawCase(Command):
    case_id: Identifier
    reason: LongText = ""


class MoveSession(Command):
    """Only the submitting firm moves the session."""

    case_id: Identifier
    session: Session
    reason: LongText = ""


class AcceptRepresentation(Command):
    """The named firm confirms it represents the party, correcting what it knows better than the submitter."""

    case_id: Identifier
    party_id: Identifier
    contact: Contact | None = None
    attorney: Attorney | None = Field(default=None, description="Its firm_id must be the accepting firm")
    time_zone: TimeZoneName | None = None
    availability: list[WeeklyWindow] | None = Field(default=None, min_length=1, max_length=50)
    unavailable: list[DateWindow] | None = Field(default=None, max_length=100)


class DeclineRepresentation(Command):
    case_id: Identifier
    party_id: Identifier
    reason: LongText = ""


class ChooseCallSlot(Command):
    case_id: Identifier
    party_id: Identifier
    offer_id: Identifier
    slot_id: Identifier


class SubmitStatement(Command):
    """A side's pre-call statement, from the side's own confirmed firm: for the mediator's eyes only. Text only on
    Kafka (documents come over HTTP)."""

    case_id: Identifier
    party_id: Identifier
    interests: LongText = Field(default="", description="What matters most and why")
    concerns: LongText = ""
    desired_outcomes: LongText = ""
    questions: LongText = Field(default="", description="Questions for the mediator")


class DeclineCallSlots(Command):
    """None of the offered slots: a new offer is made, inside the proposed windows when there are any."""

    case_id: Identifier
    party_id: Identifier
    offer_id: Identifier
    reason: LongText = ""
    proposals: list[DateWindow] = Field(default_factory=list, max_length=10)


EVENTS: tuple[type[Message], ...] = (
    CaseOpened, CaseUpdated, CaseRejected, CaseWithdrawn, RepresentationRequested, SideConfirmationOverdue,
    CommandRejected,
    CallSlotsOffered, CallScheduled, CallRescheduled, CallCancelled, CallCompleted, CallMissed, CallWaived,
    SchedulingFailed, PreMediationCompleted,
    ObjectivesRecorded, BriefReady, StatementReceived, SideReadinessChanged, CaseReadyForSession,
    ReadinessRequired, CallOutcomeRecorded,
    InvitationReplied, ReadinessReminder, NotificationSent, NotificationFailed,
)
COMMANDS: tuple[type[Message], ...] = (SubmitCase, UpdatePartyAvailability, RequestReschedule, WithdrawCase,
                                       MoveSession, AcceptRepresentation, DeclineRepresentation, ChooseCallSlot,
                                       DeclineCallSlots, SubmitStatement)
BY_TYPE: dict[str, type[Message]] = {model.type_name(): model for model in EVENTS + COMMANDS}

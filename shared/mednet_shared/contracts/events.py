"""Integration events (v1) and firm commands: the public surface of the network."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from .topics import Topics
from .values import (
    Attendee,
    Contract,
    DateWindow,
    FirmId,
    Identifier,
    LongText,
    Mediator,
    Objective,
    Party,
    Reason,
    SchedulingPolicy,
    Session,
    ShortText,
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
    participant_firms: list[FirmId]


class CaseUpdated(Message):
    topic: ClassVar[str] = Topics.INTAKE
    case_id: Identifier
    firm_id: FirmId
    revision: int = Field(ge=1)
    changes: list[Literal["session_moved", "party_added", "availability_changed"]] = Field(min_length=1)
    session: Session
    parties: list[Party] = Field(min_length=2)
    participant_firms: list[FirmId]


class CaseRejected(Message):
    topic: ClassVar[str] = Topics.INTAKE
    firm_id: FirmId
    external_ref: str = Field(description="The submission's reference as sent, possibly invalid")
    case_id: str = Field(default="", description="Empty when the submission never became a case")
    reasons: list[Reason] = Field(min_length=1)

    def subject(self) -> str:
        return self.case_id or f"{self.firm_id}/{self.external_ref}"


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


class CallRescheduled(CallScheduled):
    previous_start: AwareDatetime
    reason: LongText = ""


class CallCancelled(CallEvent):
    reason: LongText = ""
    attendees: list[Attendee] = Field(min_length=2)
    participant_firms: list[FirmId]
    start: AwareDatetime | None = Field(default=None, description="When the cancelled call was to start")
    end: AwareDatetime | None = None


class CallCompleted(CallEvent):
    completed_at: AwareDatetime
    participant_firms: list[FirmId]


class CallMissed(CallEvent):
    missed_count: int = Field(ge=1)
    participant_firms: list[FirmId]


class SchedulingFailed(Message):
    topic: ClassVar[str] = Topics.SCHEDULING
    case_id: Identifier
    firm_id: FirmId
    mediator_id: Identifier
    party_id: Identifier | None = None
    call_id: Identifier | None = None
    reason: LongText
    participant_firms: list[FirmId]


class PreMediationCompleted(Message):
    topic: ClassVar[str] = Topics.SCHEDULING
    case_id: Identifier
    mediator_id: Identifier
    call_ids: list[Identifier] = Field(min_length=1)
    completed_at: AwareDatetime
    participant_firms: list[FirmId]


# -- notes ----------------------------------------------------------------------------------------


class ObjectivesRecorded(Message):
    """Only what the party stated as its objectives; delivered to that party's own side only."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    call_id: Identifier
    party_id: Identifier
    party_firm_id: FirmId | None = Field(default=None, description="The firm of the party's own attorney")
    objectives: list[Objective] = Field(min_length=1, max_length=50)
    recorded_at: AwareDatetime


class BriefReady(Message):
    """Mediator-only: says the brief can be read from the notes service; carries none of its content."""

    topic: ClassVar[str] = Topics.NOTES
    case_id: Identifier
    mediator_id: Identifier
    party_ids: list[Identifier] = Field(min_length=2)
    ready_at: AwareDatetime


# -- notify ---------------------------------------------------------------------------------------


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


EVENTS: tuple[type[Message], ...] = (
    CaseOpened, CaseUpdated, CaseRejected, CaseWithdrawn,
    CallScheduled, CallRescheduled, CallCancelled, CallCompleted, CallMissed, SchedulingFailed,
    PreMediationCompleted,
    ObjectivesRecorded, BriefReady,
    NotificationSent, NotificationFailed,
)
COMMANDS: tuple[type[Message], ...] = (SubmitCase, UpdatePartyAvailability, RequestReschedule, WithdrawCase)
BY_TYPE: dict[str, type[Message]] = {model.type_name(): model for model in EVENTS + COMMANDS}

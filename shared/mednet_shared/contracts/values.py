"""Value types shared by the events and commands of the network."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from pydantic.networks import validate_email

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
    Field(description="Letters, digits and . _ : - (1-128 characters, no leading symbol)"),
]
FirmId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$"),
    Field(description="2-63 lowercase letters, digits or '-'"),
]


@lru_cache(maxsize=16384)
def _valid_email(value: str) -> str:
    return validate_email(value)[1]


class Email(EmailStr):
    """EmailStr with its answer remembered: every stored case and every event repeats the same addresses, and
    email-validator was a sixth of scheduling's CPU. The same errors and the same JSON Schema as EmailStr."""

    @classmethod
    def _validate(cls, input_value: str, /) -> str:
        return _valid_email(input_value)


ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


def _known_zone(name: str) -> str:
    if name not in _ZONES:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):   # OSError: a name no file can have
            raise ValueError(f"unknown IANA time zone {name!r}") from None
    return name


_ZONES = frozenset(available_timezones())
TimeZoneName = Annotated[str, AfterValidator(_known_zone), Field(description="IANA time zone, e.g. Asia/Kolkata")]


class Contract(BaseModel):
    """Events are read tolerantly: an unknown field from a newer producer is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class WeeklyWindow(Contract):
    day: Weekday
    start: time
    end: time = Field(description="Exclusive; later than start on the same day")


class DateWindow(Contract):
    start: AwareDatetime
    end: AwareDatetime


class Contact(Contract):
    name: ShortText
    email: Email
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None


CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), Field(description="ISO 3166-1 alpha-2")]
SubdivisionCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9]{1,3}$"),
    Field(description="ISO 3166-2 subdivision of the holiday country, as the holidays library names it (ENG, CA)"),
]


class Mediator(Contract):
    mediator_id: Identifier
    name: ShortText
    email: Email
    time_zone: TimeZoneName
    working_hours: list[WeeklyWindow] = Field(min_length=1, max_length=50)
    buffer_minutes: int = Field(default=15, ge=0, le=240)
    holiday_country: CountryCode | None = None
    holiday_subdivision: SubdivisionCode | None = None


class Session(Contract):
    start: AwareDatetime
    end: AwareDatetime
    time_zone: TimeZoneName


class PartyRole(StrEnum):
    CLAIMANT = "claimant"
    RESPONDENT = "respondent"
    OTHER = "other"


class Attorney(Contract):
    firm_id: FirmId = Field(description="The firm named as representing the party; it must accept (AcceptRepresentation)")
    name: ShortText
    email: Email
    time_zone: TimeZoneName | None = Field(default=None, description="The attorney's own zone; the party's if absent")
    availability: list[WeeklyWindow] = Field(
        default_factory=list, max_length=50,
        description="When the attorney can take the call, in the attorney's zone; empty: any time the party can")
    unavailable: list[DateWindow] = Field(default_factory=list, max_length=100)


class Party(Contract):
    party_id: Identifier
    role: PartyRole
    contact: Contact
    time_zone: TimeZoneName
    availability: list[WeeklyWindow] = Field(min_length=1, max_length=50)
    unavailable: list[DateWindow] = Field(default_factory=list, max_length=100)
    holiday_country: CountryCode | None = None
    holiday_subdivision: SubdivisionCode | None = None
    attorney: Attorney | None = None


class SchedulingPolicy(Contract):
    call_minutes: int = Field(default=45, ge=15, le=240)
    minimum_notice_hours: int = Field(default=24, ge=0, le=24 * 30)
    preparation_lead_hours: int = Field(default=24, ge=0, le=24 * 30)
    allow_weekends: bool = False
    allow_holidays: bool = False
    offer_slots: int = Field(default=3, ge=1, le=10, description="Slots held and offered to a side at once")
    offer_window_start_days: int | None = Field(
        default=None, ge=1, le=365,
        description="Offers start this many days before the session; unset: the mediator's setting, else 14")
    offer_window_end_days: int | None = Field(
        default=None, ge=0, le=364,
        description="Offers end this many days before the session; unset: the mediator's setting, else 2")
    offer_response_hours: int = Field(default=48, ge=1, le=24 * 30,
                                      description="Without a choice by then, the first offered slot is booked")
    confirmation_due_days: int = Field(default=7, ge=0, le=365,
                                       description="A side unconfirmed this many days before the session is raised")


class SideStatus(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    DECLINED = "declined"


class Side(Contract):
    """One party's side of a case: who represents it and whether that is confirmed. No contact data."""

    party_id: Identifier
    role: PartyRole
    firm_id: FirmId | None = Field(default=None, description="The representing firm; None: unrepresented")
    status: SideStatus
    since: AwareDatetime = Field(description="When the side entered its status")
    confirmed_by: Literal["firm", "mediator", "submitter"] | None = None


class PlaceKind(StrEnum):
    VIDEO = "video"
    PHONE = "phone"
    CALLBACK = "callback"


class Place(Contract):
    """Where one call happens; only its own side and the mediator ever see it."""

    kind: PlaceKind
    url: Annotated[str, StringConstraints(max_length=500)] | None = Field(default=None, description="Video room")
    phone: Annotated[str, StringConstraints(max_length=40)] | None = Field(default=None,
                                                                         description="Bridge, or the number called")
    pin: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,12}$")] | None = None
    text: ShortText = Field(description="How it reads to people, e.g. 'The mediator will call you on +44 ...'")


class OfferedSlot(Contract):
    slot_id: Identifier
    start: AwareDatetime
    end: AwareDatetime
    choose_url: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="Signed one-click link that chooses this slot, valid for this side and offer only")


class Reason(Contract):
    field: str = Field(description="Dotted path of the offending field, or '' for the whole submission")
    message: str


class AttendeeKind(StrEnum):
    PARTY = "party"
    ATTORNEY = "attorney"
    MEDIATOR = "mediator"


class Attendee(Contract):
    kind: AttendeeKind
    name: ShortText
    email: Email
    time_zone: TimeZoneName
    firm_id: FirmId | None = None


class ObjectiveIssue(StrEnum):
    PAYMENT_AMOUNT = "payment_amount"
    PAYMENT_TIMING = "payment_timing"
    CONFIDENTIALITY = "confidentiality"
    APOLOGY = "apology"
    FUTURE_RELATIONSHIP = "future_relationship"
    REFERENCE = "reference"
    NON_MONETARY_TERMS = "non_monetary_terms"
    COSTS = "costs"
    NON_DISPARAGEMENT = "non_disparagement"
    OTHER = "other"


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


def issue_label(issue: ObjectiveIssue, free_issue: str | None = None) -> str:
    """How an issue reads to people: its label, or for 'other' the name the party gave it."""
    if issue is ObjectiveIssue.OTHER and free_issue:
        return free_issue
    return ISSUE_LABELS[issue]


class Stance(StrEnum):
    WANTS = "wants"
    WILLING = "willing"
    OPPOSES = "opposes"


class Amount(Contract):
    minimum: float | None = Field(default=None, ge=0)
    maximum: float | None = Field(default=None, ge=0)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"


class Objective(Contract):
    issue: ObjectiveIssue
    free_issue: ShortText | None = Field(default=None, description="The issue's name when issue is 'other'")
    wants: LongText = Field(description="What the party wants on the issue, in its own words")
    stance: Stance = Field(default=Stance.WANTS, description="wants it, is willing to give it, or opposes it")
    amount: Amount | None = Field(default=None, description="For monetary issues: the acceptable range")
    priority: int = Field(ge=1, le=10, description="1 is the party's highest priority")
    shareable: bool = Field(default=False, description="The party allows it to be shown to the other side")


class ObjectiveSummary(Contract):
    """An objective as its own side is told of it: the issue, the stance, the priority and whether it may be shared.
    What the party wants, in the mediator's words, and any amount stay sealed in notes."""

    issue: ObjectiveIssue
    free_issue: ShortText | None = Field(default=None, description="The issue's name when issue is 'other'")
    wants: LongText = Field(default="", description="Always empty: sealed in notes (older events carried the text)")
    stance: Stance = Field(default=Stance.WANTS, description="wants it, is willing to give it, or opposes it")
    amount: Amount | None = Field(default=None, description="Always empty: amounts are sealed in notes")
    priority: int = Field(ge=1, le=10, description="1 is the party's highest priority")
    shareable: bool = Field(default=False, description="The party allows it to be shown to the other side")


class DocumentKind(StrEnum):
    POSITION_PAPER = "position_paper"
    EVIDENCE = "evidence"
    CORRESPONDENCE = "correspondence"
    AGREEMENT = "agreement"
    OTHER = "other"


class ReceivedDocument(Contract):
    """What a side's statement brought, as its receipt names it: never the document's content."""

    document_id: Identifier
    title: ShortText
    kind: DocumentKind
    size: int = Field(ge=0, description="In bytes")


class ReadinessItem(StrEnum):
    """A preliminary the session cannot spend time on, settled per side before it."""

    AGREEMENT_SIGNED = "agreement_signed"
    ATTENDEES_NAMED = "attendees_named"
    AUTHORITY_CONFIRMED = "authority_confirmed"
    INTERPRETER_ARRANGED = "interpreter_arranged"
    ACCESSIBILITY_ARRANGED = "accessibility_arranged"
    TECHNOLOGY_CHECKED = "technology_checked"
    DOCUMENTS_EXCHANGED = "documents_exchanged"


class ReadinessMark(Contract):
    item: ReadinessItem
    done: bool
    set_by: Literal["firm", "mediator"]
    set_at: AwareDatetime


class SideOutstanding(Contract):
    """One side's required readiness items not done yet."""

    party_id: Identifier
    outstanding: list[ReadinessItem] = Field(default_factory=list)


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)

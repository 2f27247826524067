"""Scheduling's own state: what it stores, as pydantic models (never a dump of a contract event).

A document is `model.document()`; `Model.model_validate(document)` reads it back, in the current shape or in the
shape written before these models (schema 1), so no migration pass is needed: every write stores the current shape.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from mednet_shared.contracts.events import CaseOpened
from mednet_shared.contracts.values import (
    Mediator,
    Party,
    Place,
    SchedulingPolicy,
    Session,
    Side,
    SideStatus,
    WeeklyWindow,
)

from .holds import OfferBook
from .places import Conferencing
from .slots import Booking, Calendar, MediatorAvailability

SCHEMA = 2


class CallStatus(StrEnum):
    OFFERED = "offered"
    """Slots are held and offered to the side; it has not chosen yet."""
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    WAIVED = "waived"


class Booked(BaseModel):
    """A call as the mediator's calendar holds it: the source of truth for when it is. cause: the id of what placed
    it last, so a redelivery of that cause changes nothing."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    call_id: str
    case_id: str
    party_id: str
    start: AwareDatetime
    end: AwareDatetime
    sequence: int = 0
    missed_count: int = 0
    cause: str = ""
    place: Place | None = None

    def booking(self) -> Booking:
        return Booking(self.call_id, self.start, self.end)


class CalendarState(BaseModel):
    """One mediator's calendar: bookings and availability; `version` is its compare-and-set counter."""

    model_config = ConfigDict(extra="ignore")
    mediator_id: str = Field(validation_alias=AliasChoices("_id", "mediator_id"))
    version: int = 0
    calls: dict[str, Booked] = Field(default_factory=dict)
    availability: MediatorAvailability = Field(default_factory=MediatorAvailability)
    conferencing: Conferencing | None = None
    offers: OfferBook = Field(default_factory=OfferBook)
    """The open offers and their holds (block every booking and other offer), under the same compare-and-set."""

    @field_validator("offers", mode="before")
    @classmethod
    def _offers_from_document(cls, value: Any) -> Any:
        return OfferBook() if value is None else value

    @field_validator("calls", mode="before")
    @classmethod
    def _calls_from_list(cls, value: Any) -> Any:
        return {call["call_id"]: call for call in value} if isinstance(value, list) else value

    @field_validator("availability", mode="before")
    @classmethod
    def _availability_from_document(cls, value: Any) -> Any:
        return availability_from(value or {}) if isinstance(value, dict) or value is None else value

    def calendar(self) -> Calendar:
        """Everything that blocks a new slot: the bookings and every open offer's holds."""
        return Calendar([*(record.booking() for record in self.calls.values()), *self.offers.holds()])

    def document(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "calls": [call.model_dump() for call in self.calls.values()],
                "availability": availability_document(self.availability),
                "conferencing": self.conferencing.model_dump(mode="json") if self.conferencing else None,
                "offers": self.offers.document(), "next_deadline": self.offers.next_deadline()}


class CaseFacts(BaseModel):
    """What scheduling keeps of a case: who talks to whom, when the session is, and the policy."""

    model_config = ConfigDict(extra="ignore")
    case_id: str
    firm_id: str
    mediator: Mediator
    session: Session
    parties: list[Party]
    policy: SchedulingPolicy
    participant_firms: list[str]
    sides: list[Side] = Field(default_factory=list)
    """One per party; empty (a case from before sides existed): every side confirmed."""

    @classmethod
    def of(cls, case: CaseOpened) -> CaseFacts:
        """From intake's CaseOpened, whose values are validated already (they are not validated again)."""
        return cls.model_construct(**{name: getattr(case, name) for name in cls.model_fields})

    def party(self, party_id: str) -> Party | None:
        return next((party for party in self.parties if party.party_id == party_id), None)

    def side(self, party_id: str) -> Side | None:
        return next((side for side in self.sides if side.party_id == party_id), None)

    def confirmed(self, party_id: str) -> bool:
        """Whether the party's side is confirmed (a party with no side entry is not: fail closed)."""
        if self.party(party_id) is None:
            return False
        if not self.sides:
            return True
        side = self.side(party_id)
        return side is not None and side.status is SideStatus.CONFIRMED

    def declined(self, party_id: str) -> bool:
        side = self.side(party_id)
        return side is not None and side.status is SideStatus.DECLINED

    def side_firm(self, party_id: str) -> str | None:
        """The firm of the party's confirmed side (None: unconfirmed, or unrepresented)."""
        if not self.confirmed(party_id):
            return None
        if self.sides:
            return self.side(party_id).firm_id
        party = self.party(party_id)
        return party.attorney.firm_id if party.attorney else None

    def confirmed_parties(self) -> list[Party]:
        return [party for party in self.parties if self.confirmed(party.party_id)]


class CallState(BaseModel):
    """The case's view of one party's call (a projection of the calendar, except completion, decided here)."""

    model_config = ConfigDict(extra="ignore")
    party_id: str
    call_id: str
    status: CallStatus
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    sequence: int | None = None
    missed_count: int | None = None
    reason: str | None = None
    completed_at: AwareDatetime | None = None
    waived_at: AwareDatetime | None = None
    place: Place | None = None
    offer_id: str | None = None
    """While offered: the open offer's id (its slots and deadline are in CallSlotsOffered)."""
    expires_at: AwareDatetime | None = None

    def view(self) -> dict[str, Any]:
        """As the API shows it: instants in ISO 8601 with their offset (+00:00)."""
        fields = self.model_dump(exclude_none=True, exclude={"place"})
        if self.place is not None:
            fields["place"] = self.place.model_dump(mode="json", exclude_none=True)
        return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in fields.items()
                } | {"status": self.status.value}


class CaseState(BaseModel):
    """Scheduling's case: its facts at `revision` (intake's), its status, its calls by party; `version` is its
    compare-and-set counter."""

    model_config = ConfigDict(extra="ignore")
    case_id: str = Field(validation_alias=AliasChoices("_id", "case_id"))
    version: int = 0
    revision: int = 1
    status: str = "open"
    facts: CaseFacts
    calls: dict[str, CallState] = Field(default_factory=dict)
    completed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, document: Any) -> Any:
        """Schema 1 kept the CaseOpened payload under "case"."""
        if isinstance(document, dict) and "facts" not in document and "case" in document:
            document = {**document, "facts": document["case"]}
        return document

    @field_validator("calls", mode="before")
    @classmethod
    def _calls_from_list(cls, value: Any) -> Any:
        return {call["party_id"]: call for call in value} if isinstance(value, list) else value

    def document(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "revision": self.revision, "status": self.status,
                "facts": self.facts.model_dump(mode="json"),
                "calls": [call.model_dump(exclude_none=True) for call in self.calls.values()],
                "completed": self.completed}


def availability_document(availability: MediatorAvailability) -> dict[str, Any]:
    return {
        "weekly": [w.model_dump(mode="json") for w in availability.weekly] if availability.weekly is not None else None,
        "date_overrides": {day.isoformat(): [[s.isoformat(), e.isoformat()] for s, e in hours]
                           for day, hours in availability.date_overrides.items()},
        "blackout_days": sorted(day.isoformat() for day in availability.blackout_days),
    }


def availability_from(document: dict[str, Any]) -> MediatorAvailability:
    weekly = document.get("weekly")
    return MediatorAvailability(
        weekly=tuple(WeeklyWindow.model_validate(w) for w in weekly) if weekly is not None else None,
        date_overrides={date.fromisoformat(day): tuple((time.fromisoformat(s), time.fromisoformat(e)) for s, e in hours)
                        for day, hours in (document.get("date_overrides") or {}).items()},
        blackout_days=frozenset(date.fromisoformat(day) for day in document.get("blackout_days") or ()),
    )

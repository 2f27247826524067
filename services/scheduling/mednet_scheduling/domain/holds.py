"""Offers and holds on a mediator's calendar, as scheduling stores them (pydantic models, pure).

An offer is N slots held for one side's call until the side chooses one, declines them all, or the deadline passes.
While an offer is open its slots are holds: they block every other offer and every booking of the mediator, buffers
included. An offer that ends (chosen, declined, expired, withdrawn) holds nothing; the last offers of a call are kept
so that a choice about an old offer is told apart from one about an unknown offer.

`OfferBook` is one mediator's offers, one `CallOffers` per call; it lives next to the bookings of the calendar
(`CalendarState`), under the same compare-and-set.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from mednet_shared.contracts.values import Place

from .slots import Booking

HOLD_PREFIX = "hold:"
CAUSES_KEPT = 64
PAST_OFFERS_KEPT = 16
DECLINED_KEPT = 60


class OfferStatus(StrEnum):
    OPEN = "open"
    CHOSEN = "chosen"
    """A slot was booked: by the side's choice, the mediator's, or the deadline (booked_by says which)."""
    DECLINED = "declined"
    EXPIRED = "expired"
    """The deadline passed and no offered slot could still be booked."""
    WITHDRAWN = "withdrawn"
    """The case was withdrawn, the side declined or became unconfirmed, or the mediator cancelled the call."""


class HeldSlot(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    slot_id: str
    start: AwareDatetime
    end: AwareDatetime


class Offer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    offer_id: str
    number: int = Field(ge=1)
    call_id: str
    case_id: str
    party_id: str
    side_firm_id: str | None = None
    slots: tuple[HeldSlot, ...] = Field(min_length=1)
    made_at: AwareDatetime
    expires_at: AwareDatetime
    window_start: AwareDatetime
    window_end: AwareDatetime
    sequence: int = Field(ge=0, description="The sequence of its CallSlotsOffered")
    status: OfferStatus = OfferStatus.OPEN
    chosen_slot_id: str | None = None
    booked_by: Literal["choice", "deadline", "mediator"] | None = None
    closed_at: AwareDatetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status is OfferStatus.OPEN

    def slot(self, slot_id: str) -> HeldSlot | None:
        return next((slot for slot in self.slots if slot.slot_id == slot_id), None)

    def holds(self) -> list[Booking]:
        if not self.is_open:
            return []
        return [Booking(hold_id(slot.slot_id), slot.start, slot.end) for slot in self.slots]

    def closed(self, status: OfferStatus, now: datetime, **update: Any) -> Offer:
        return self.model_copy(update={"status": status, "closed_at": now, **update})


class CallOffers(BaseModel):
    """One call's offers: the current (last) one, a few before it, the slots the side declined (never offered
    again), the causes already applied (a redelivery changes nothing) and the call's last sequence."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    call_id: str
    case_id: str
    party_id: str
    made: int = Field(default=0, ge=0, description="How many offers were made for the call")
    current: Offer | None = None
    past: tuple[Offer, ...] = ()
    declined: tuple[HeldSlot, ...] = ()
    causes: tuple[str, ...] = ()
    last_sequence: int | None = Field(default=None, description="The sequence of the call's last event")
    place: Place | None = Field(default=None, description="Where the call happens, once it was first booked")

    def seen(self, cause: str) -> bool:
        return cause in self.causes

    def with_cause(self, cause: str) -> tuple[str, ...]:
        return (*self.causes, cause)[-CAUSES_KEPT:]

    def offer(self, offer_id: str) -> Offer | None:
        if self.current is not None and self.current.offer_id == offer_id:
            return self.current
        return next((offer for offer in self.past if offer.offer_id == offer_id), None)


class OfferDefaults(BaseModel):
    """A mediator's own offer window, used where the case's policy sets none (else 14 and 2 days)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    window_start_days: int | None = Field(default=None, ge=1, le=365)
    window_end_days: int | None = Field(default=None, ge=0, le=364)


class OfferBook(BaseModel):
    """One mediator's offers by call id, and the mediator's offer defaults."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    calls: dict[str, CallOffers] = Field(default_factory=dict)
    defaults: OfferDefaults = Field(default_factory=OfferDefaults)

    @field_validator("calls", mode="before")
    @classmethod
    def _calls_from_list(cls, value: Any) -> Any:
        return {call["call_id"]: call for call in value} if isinstance(value, list) else value

    def of(self, call_id: str) -> CallOffers | None:
        return self.calls.get(call_id)

    def open_offers(self) -> list[Offer]:
        return [record.current for record in self.calls.values() if record.current and record.current.is_open]

    def holds(self, except_call: str | None = None) -> list[Booking]:
        return [hold for offer in self.open_offers() if offer.call_id != except_call for hold in offer.holds()]

    def due(self, now: datetime) -> list[Offer]:
        """The open offers whose deadline has passed, earliest deadline first (for expire)."""
        return sorted((offer for offer in self.open_offers() if offer.expires_at <= now),
                      key=lambda offer: (offer.expires_at, offer.offer_id))

    def next_deadline(self) -> datetime | None:
        return min((offer.expires_at for offer in self.open_offers()), default=None)

    def find(self, offer_id: str) -> Offer | None:
        """Any call's offer by id (to tell a foreign offer from an unknown one)."""
        for record in self.calls.values():
            found = record.offer(offer_id)
            if found is not None:
                return found
        return None

    def with_call(self, record: CallOffers) -> OfferBook:
        return self.model_copy(update={"calls": {**self.calls, record.call_id: record}})

    def document(self) -> dict[str, Any]:
        return {"calls": [record.model_dump(mode="json") for record in self.calls.values()],
                "defaults": self.defaults.model_dump(mode="json")}


def hold_id(slot_id: str) -> str:
    return f"{HOLD_PREFIX}{slot_id}"


def offer_id_of(call_id: str, number: int) -> str:
    return identifier(f"{call_id}:offer-{number}")


def slot_id_of(offer_id: str, index: int) -> str:
    return identifier(f"{offer_id}:{index + 1}")


def identifier(text: str) -> str:
    """The text when it is a valid contract Identifier (at most 128 characters), else a stable shortened form."""
    if len(text) <= 128:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return f"{text[:95]}-{digest}"

"""Booking with the side's consent, as pure functions of (calendar, offers, case facts of one side, now) -> new
calendar, new offers and the messages they cause (issue 17, item 4).

    (no call) --offer--> offered: N slots held, CallSlotsOffered to the side
    offered --choose (the side's firm, or the mediator)--> booked: CallScheduled booked_by "choice" | "mediator"
    offered --decline (proposals or none)--> offered again (a new offer; declined slots are never offered again)
    offered --deadline passed--> booked: CallScheduled booked_by "deadline" (the first offered slot still ahead)
    offered --withdraw (case withdrawn, side declined, call cancelled)--> nothing held
    offered --revalidate after a case change, a slot no longer fits--> offered again (or failed)
    booked --iTIP REPLY DECLINED or COUNTER--> CallCancelled, then offered again (COUNTER: inside its proposals)

Offer ids and slot ids derive from (call id, offer number), the deadline's cause from the offer id: a redelivery
repeats them. Every decision records its cause on the call's offers: a cause seen again changes nothing. A refused
decision raises an `OfferRefused` carrying every reason (contract `Reason`s, as CommandRejected wants them) and
changes nothing. Held slots and bookings never overlap (buffers included): every search runs against
`blocking(calendar, offers)`, the bookings plus every open offer's holds.

The window of an offer: from `offer_window_start_days` to `offer_window_end_days` before the session (the case's
policy, else the mediator's `OfferDefaults`, else 14 and 2), never before now + the minimum notice, and the call
still ends before the session minus the preparation lead. An offer expires after `offer_response_hours`, but no
later than its first slot minus the minimum notice (so the deadline can still book it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mednet_shared.contracts.events import (
    CallCancelled,
    CallScheduled,
    CallSlotsOffered,
    InvitationReplied,
    Message,
    SchedulingFailed,
)
from mednet_shared.contracts.values import (
    AttendeeKind,
    DateWindow,
    OfferedSlot,
    Party,
    Place,
    Reason,
    SideStatus,
)

from .holds import (
    DECLINED_KEPT,
    PAST_OFFERS_KEPT,
    CallOffers,
    HeldSlot,
    Offer,
    OfferBook,
    OfferStatus,
    offer_id_of,
    slot_id_of,
)
from .people import attendees, call_id_of
from .slots import Calendar, NoSlot, Slot, SlotRequest, find_slots, violations
from .state import Booked, CalendarState, CaseFacts

DEFAULT_WINDOW_START_DAYS = 14
DEFAULT_WINDOW_END_DAYS = 2
MEDIATOR = None
"""The sender of a decision made by the case's mediator (over HTTP), rather than by a firm."""
SIGNED_LINK = "(signed link)"
"""The sender of a choice made through the one-click link of the offer's email; the wiring has verified that the
link was signed for this side and this offer (it is no firm id: firm ids have no parentheses)."""

BookedBy = Literal["choice", "deadline", "mediator"]


# -- errors -------------------------------------------------------------------------------------------------


class OfferRefused(Exception):
    """A decision refused: every reason, for CommandRejected.reasons or an HTTP 4xx body. Nothing changed.
    `status` is the HTTP status the API should answer with."""

    status = 422

    def __init__(self, reasons: Sequence[Reason]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(reason.message for reason in self.reasons))


class SideNotConfirmed(OfferRefused):
    status = 409


class ForeignOffer(OfferRefused):
    """The offer, call or link is another side's (or the sender is not the side's firm)."""

    status = 403


class UnknownOffer(OfferRefused):
    status = 404


class OfferNotCurrent(OfferRefused):
    """An older offer of the call, or one that already ended (chosen, declined, withdrawn)."""

    status = 409


class OfferExpired(OfferRefused):
    status = 410


class SlotNotOffered(OfferRefused):
    status = 422


class ProposalOutsideWindow(OfferRefused):
    status = 422


class NoSlotInProposals(OfferRefused):
    """Every proposal lies in the window, but no slot there fits the rules and the calendar."""

    status = 409


class UnknownCall(OfferRefused):
    status = 404


class UnknownSequence(OfferRefused):
    status = 409


class UnknownAttendee(OfferRefused):
    status = 422


def _refuse(kind: type[OfferRefused], reasons: list[Reason]) -> None:
    if reasons:
        raise kind(reasons)


Problems = list[tuple[type[OfferRefused], Reason]]


def _refuse_all(problems: Problems) -> None:
    """Every problem's reason at once, as the kind of the first (the most fundamental)."""
    if problems:
        raise problems[0][0]([reason for _, reason in problems])


# -- the result -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferChange:
    """A calendar and its offers after a decision, and the messages it causes. `changed` false: nothing to write
    (a redelivery, or nothing to do)."""

    calendar: CalendarState
    offers: OfferBook
    messages: tuple[Message, ...] = ()
    changed: bool = False


def _same(calendar: CalendarState, offers: OfferBook) -> OfferChange:
    return OfferChange(calendar, offers)


# -- reading the case ---------------------------------------------------------------------------------------


def side_status(case: CaseFacts, party_id: str) -> SideStatus | None:
    """The party's side status; a case without sides (from before they existed): confirmed; a party of a case
    with sides but without its own side entry: None (nobody; fail closed)."""
    sides = getattr(case, "sides", None) or []
    if not any(party.party_id == party_id for party in case.parties):
        return None
    if not sides:
        return SideStatus.CONFIRMED
    side = next((side for side in sides if side.party_id == party_id), None)
    return side.status if side is not None else None


def offer_window(case: CaseFacts, offers: OfferBook, now: datetime) -> tuple[datetime, datetime]:
    """(start, end) of the window offers are made in, the start clipped to now + the minimum notice."""
    policy, defaults = case.policy, offers.defaults
    start_days = _first(policy.offer_window_start_days, defaults.window_start_days, DEFAULT_WINDOW_START_DAYS)
    end_days = _first(policy.offer_window_end_days, defaults.window_end_days, DEFAULT_WINDOW_END_DAYS)
    session = case.session.start
    start = max(session - timedelta(days=start_days), now + timedelta(hours=policy.minimum_notice_hours))
    return start, session - timedelta(days=end_days)


def blocking(calendar: CalendarState, offers: OfferBook, except_call: str | None = None) -> Calendar:
    """Everything that blocks a new slot on the mediator's calendar: its bookings and every open offer's holds
    (the holds of `except_call`'s offer left out: it is being replaced). calls.place must search against this too."""
    bookings = [record.booking() for record in calendar.calls.values()]
    return Calendar([*bookings, *offers.holds(except_call)])


# -- decisions ---------------------------------------------------------------------------------------------


def offer(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, now: datetime, cause: str,
          after: int | None = None) -> OfferChange:
    """Hold N slots for the party's call and offer them to its side. Nothing to do if the call is booked or
    already has an open offer. `after`: the call's last sequence when it left the calendar outside this model
    (a mediator's cancellation), so its events go on from it. No slot: SchedulingFailed, nothing held."""
    _ensure_confirmed(case, party)
    call_id = call_id_of(case.case_id, party.party_id)
    record = offers.of(call_id) or CallOffers(call_id=call_id, case_id=case.case_id, party_id=party.party_id)
    if record.seen(cause) or call_id in calendar.calls or (record.current and record.current.is_open):
        return _same(calendar, offers)
    if after is not None and (record.last_sequence is None or record.last_sequence < after):
        record = record.model_copy(update={"last_sequence": after})
    return _offered(calendar, offers, case, party, record, now, cause, proposals=None)


def choose(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, offer_id: str, slot_id: str,
           now: datetime, cause: str, *, sender: str | None, place: Place | None = None) -> OfferChange:
    """Book the chosen slot of the side's current offer and release the others. sender: the firm that chose
    (MEDIATOR: the case's mediator; SIGNED_LINK: the link of the offer's email). place: where the call happens
    (made by the wiring for a first booking; a call booked before keeps its place)."""
    call_id = call_id_of(case.case_id, party.party_id)
    record = offers.of(call_id)
    if record is not None and record.seen(cause):
        return _same(calendar, offers)
    current, problems = _current_offer(offers, case, party, offer_id, now, sender)
    if current.slot(slot_id) is None:
        problems.append((SlotNotOffered, Reason(field="slot_id", message=(
            f"slot {slot_id} is not one of offer {offer_id}'s slots "
            f"({', '.join(slot.slot_id for slot in current.slots)})"))))
    _refuse_all(problems)
    return _book(calendar, offers, case, party, current, current.slot(slot_id),
                 "mediator" if sender is MEDIATOR else "choice", now, cause, place)


def decline(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, offer_id: str,
            proposals: Sequence[DateWindow], now: datetime, cause: str, *, sender: str | None) -> OfferChange:
    """None of the offered slots: a new offer, inside the proposals when there are any (each must lie inside the
    window), else anywhere in the window but the declined slots. Proposals where nothing fits: refused, the
    current offer stays. No proposals and nothing else fits: SchedulingFailed (the mediator acts), nothing held."""
    call_id = call_id_of(case.case_id, party.party_id)
    record = offers.of(call_id)
    if record is not None and record.seen(cause):
        return _same(calendar, offers)
    current, problems = _current_offer(offers, case, party, offer_id, now, sender)
    _refuse_all(problems + _proposal_problems(case, offers, now, proposals))
    record = offers.of(call_id)
    assert record is not None
    closed = current.closed(OfferStatus.DECLINED, now)
    record = _ended(record, closed, declined=current.slots)
    return _offered(calendar, offers, case, party, record, now, cause, proposals=list(proposals) or None,
                    failing_ok=not proposals)


def expire(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, now: datetime,
           place: Place | None = None) -> OfferChange:
    """The party's open offer past its deadline: its first slot that still fits every rule (at least the minimum
    notice ahead, inside the window and everyone's hours as the case has them now) is booked (booked_by
    "deadline"); none left: SchedulingFailed, nothing held. Not due, or no open offer: nothing."""
    call_id = call_id_of(case.case_id, party.party_id)
    record = offers.of(call_id)
    current = record.current if record else None
    if current is None or not current.is_open or now < current.expires_at:
        return _same(calendar, offers)
    cause = f"{current.offer_id}:deadline"
    if side_status(case, party.party_id) is not SideStatus.CONFIRMED:
        return withdraw(calendar, offers, call_id, now, cause)
    slot = next((slot for slot in current.slots if _still_fits(calendar, offers, case, party, slot, now)), None)
    if slot is None:
        closed = current.closed(OfferStatus.EXPIRED, now)
        record = _ended(record, closed).model_copy(update={"causes": record.with_cause(cause)})
        reason = (f"offer {current.offer_id} had no answer by {current.expires_at.isoformat()} and none of its slots "
                  "can still be booked")
        return OfferChange(calendar, offers.with_call(record), (_failed(case, party, reason),), True)
    return _book(calendar, offers, case, party, current, slot, "deadline", now, cause, place)


def reply(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, replied: InvitationReplied,
          now: datetime, cause: str) -> OfferChange:
    """An attendee's iTIP REPLY to the call's invitation. DECLINED or COUNTER: the booking is released
    (CallCancelled) and a new offer made, inside a COUNTER's proposed windows; ACCEPTED, TENTATIVE: nothing. A
    call, sequence or attendee the invitation does not have: refused."""
    call_id = call_id_of(case.case_id, party.party_id)
    record = offers.of(call_id)
    if record is not None and record.seen(cause):
        return _same(calendar, offers)
    booked = calendar.calls.get(call_id)
    problems: Problems = []
    if replied.call_id != call_id or replied.case_id != case.case_id or replied.party_id != party.party_id:
        problems.append((UnknownCall, Reason(field="call_id", message=(
            f"the reply is about call {replied.call_id} of case {replied.case_id}, not call {call_id}"))))
    if booked is None:
        problems.append((UnknownCall, Reason(field="call_id", message=(
            f"call {replied.call_id} has no booking to reply to"))))
    elif replied.sequence != booked.sequence:
        problems.append((UnknownSequence, Reason(field="sequence", message=(
            f"the reply is to sequence {replied.sequence}; the invitation of call {call_id} is at sequence "
            f"{booked.sequence}"))))
    invited = {person.email.lower() for person in attendees(case, party) if person.kind is not AttendeeKind.MEDIATOR}
    if replied.attendee_email.lower() not in invited:
        problems.append((UnknownAttendee, Reason(field="attendee_email", message=(
            f"{replied.attendee_email} is not invited to call {call_id}"))))
    proposals = list(replied.proposed) if replied.partstat == "COUNTER" else []
    if replied.partstat in ("DECLINED", "COUNTER"):
        problems += _proposal_problems(case, offers, now, proposals, field="proposed")
    _refuse_all(problems)
    assert booked is not None
    if replied.partstat not in ("DECLINED", "COUNTER"):
        return _same(calendar, offers)
    _ensure_confirmed(case, party)
    what = "proposed another time" if replied.partstat == "COUNTER" else "declined the invitation"
    calls = {key: value for key, value in calendar.calls.items() if key != call_id}
    cancelled = CallCancelled(
        call_id=call_id, case_id=case.case_id, party_id=party.party_id, mediator_id=case.mediator.mediator_id,
        sequence=booked.sequence + 1, reason=f"{replied.attendee_email} {what}", attendees=attendees(case, party),
        participant_firms=case.participant_firms, start=booked.start, end=booked.end,
        side_firm_id=case.side_firm(party.party_id), place=_place_of(booked))
    record = record or CallOffers(call_id=call_id, case_id=case.case_id, party_id=party.party_id)
    declined = (HeldSlot(slot_id=f"{call_id}:booked-{booked.sequence}", start=booked.start, end=booked.end),)
    record = record.model_copy(update={
        "last_sequence": booked.sequence + 1, "place": _place_of(booked) or record.place,
        "declined": (*record.declined, *declined)[-DECLINED_KEPT:]})
    released = calendar.model_copy(update={"calls": calls})
    change = _offered(released, offers, case, party, record, now, cause, proposals=proposals or None,
                      failing_ok=not proposals)
    return OfferChange(change.calendar, change.offers, (cancelled, *change.messages), True)


def withdraw(calendar: CalendarState, offers: OfferBook, call_id: str, now: datetime, cause: str) -> OfferChange:
    """The call's open offer ends without a booking (case withdrawn, side declined or unconfirmed, call cancelled
    or waived by the mediator): its holds are released, its links stop working. Bookings are calls.cancel's."""
    record = offers.of(call_id)
    if record is None or record.seen(cause) or record.current is None or not record.current.is_open:
        return _same(calendar, offers)
    record = _ended(record, record.current.closed(OfferStatus.WITHDRAWN, now))
    record = record.model_copy(update={"causes": record.with_cause(cause)})
    return OfferChange(calendar, offers.with_call(record), (), True)


def revalidate(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, now: datetime,
               cause: str) -> OfferChange:
    """After the case changed (session moved, availability or attorney corrected, mediator's hours changed): an
    open offer whose slots all still fit the rules and the window stays; otherwise it is replaced by a new offer
    (CallSlotsOffered; the old offer's links stop working), or SchedulingFailed when nothing fits any more. A side
    no longer confirmed: the offer is withdrawn."""
    call_id = call_id_of(case.case_id, party.party_id)
    record = offers.of(call_id)
    if record is None or record.seen(cause) or record.current is None or not record.current.is_open:
        return _same(calendar, offers)
    if side_status(case, party.party_id) is not SideStatus.CONFIRMED:
        return withdraw(calendar, offers, call_id, now, cause)
    current = record.current
    if now >= current.expires_at:
        return _same(calendar, offers)   # due: expire decides, against the rules of now
    if all(_still_fits(calendar, offers, case, party, slot, now) for slot in current.slots):
        return _same(calendar, offers)
    record = _ended(record, current.closed(OfferStatus.WITHDRAWN, now))
    return _offered(calendar, offers, case, party, record, now, cause, proposals=None)


def linked(message: CallSlotsOffered, choose_url: Callable[[str, str], str],
           decline_url: Callable[[str], str]) -> CallSlotsOffered:
    """The offer with its signed one-click links (the signing, which needs a secret, is the caller's):
    choose_url(offer_id, slot_id) and decline_url(offer_id), each valid for this side and this offer only."""
    slots = [slot.model_copy(update={"choose_url": choose_url(message.offer_id, slot.slot_id)})
             for slot in message.slots]
    return message.model_copy(update={"slots": slots, "decline_url": decline_url(message.offer_id)})


def forget(calendar: CalendarState, offers: OfferBook, case_id: str) -> OfferChange:
    """Drop a finished case's offer records (withdrawn, or completed and past its session) so the mediator's
    document does not grow forever. Only records with nothing open and no booking go; a command about them
    afterwards is refused as about an unknown offer."""
    kept = {call_id: record for call_id, record in offers.calls.items()
            if record.case_id != case_id or call_id in calendar.calls
            or (record.current is not None and record.current.is_open)}
    if len(kept) == len(offers.calls):
        return _same(calendar, offers)
    return OfferChange(calendar, offers.model_copy(update={"calls": kept}), (), True)


def booked_by(offers: OfferBook, call_id: str) -> BookedBy | None:
    """How the call's booking came about, when this model made it."""
    record = offers.of(call_id)
    if record is None:
        return None
    last = record.current if record.current and record.current.status is OfferStatus.CHOSEN else None
    return last.booked_by if last else None


# -- inside -----------------------------------------------------------------------------------------------


def _first(*values: int | None) -> int:
    return next(value for value in values if value is not None)


def _still_fits(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, slot: HeldSlot,
               now: datetime) -> bool:
    """Whether a held slot still satisfies every rule now: notice from now, the window, everyone's hours and
    availability as the case has them now, and no booking or other offer's hold (buffers included)."""
    call_id = call_id_of(case.case_id, party.party_id)
    start, end = offer_window(case, offers, now)
    request = SlotRequest(call_id=call_id, mediator=case.mediator, party=party, session=case.session,
                          policy=case.policy, now=now, not_before=start, not_after=end,
                          availability=calendar.availability)
    return not violations(request, blocking(calendar, offers, except_call=call_id), Slot(slot.start, slot.end))


def _place_of(booked: Booked) -> Place | None:
    return getattr(booked, "place", None)


def _ensure_confirmed(case: CaseFacts, party: Party) -> None:
    status = side_status(case, party.party_id)
    if status is not SideStatus.CONFIRMED:
        what = status.value.replace("_", " ") if status else "without a side"
        _refuse(SideNotConfirmed, [Reason(field="party_id", message=f"the side of party {party.party_id} is {what}: "
                                          "no call is offered or booked for it")])


def _current_offer(offers: OfferBook, case: CaseFacts, party: Party, offer_id: str, now: datetime,
                   sender: str | None) -> tuple[Offer, Problems]:
    """The side's offer named offer_id and every reason it cannot be answered now (none: it is the current open
    one). An offer that is not the side's, or not the sender's to answer, is refused at once."""
    call_id = call_id_of(case.case_id, party.party_id)
    record = offers.of(call_id)
    found = record.offer(offer_id) if record else None
    if found is None:
        elsewhere = offers.find(offer_id)
        if elsewhere is not None:
            _refuse(ForeignOffer, [Reason(field="offer_id", message=f"offer {offer_id} is not for party "
                                          f"{party.party_id} of case {case.case_id}")])
        _refuse(UnknownOffer, [Reason(field="offer_id", message=f"no offer {offer_id} for party {party.party_id} of "
                                      f"case {case.case_id}")])
    assert found is not None and record is not None
    problems: Problems = []
    if sender is not MEDIATOR and sender != SIGNED_LINK and (sender is None or sender != case.side_firm(party.party_id)
                                                             or sender != found.side_firm_id):
        _refuse(ForeignOffer, [Reason(field="", message=f"firm {sender} is not the firm of party {party.party_id}'s "
                                      f"side: offer {offer_id} is not its to answer")])
    if side_status(case, party.party_id) is not SideStatus.CONFIRMED:
        problems.append((SideNotConfirmed, Reason(field="party_id", message=(
            f"the side of party {party.party_id} is no longer confirmed"))))
    if record.current is not found:
        current = record.current.offer_id if record.current else "none"
        problems.append((OfferNotCurrent, Reason(field="offer_id", message=(
            f"offer {offer_id} is not the current offer (the current one is {current})"))))
    elif not found.is_open:
        problems.append((OfferNotCurrent, Reason(field="offer_id", message=(
            f"offer {offer_id} has ended ({found.status.value})"))))
    elif now >= found.expires_at:
        problems.append((OfferExpired, Reason(field="offer_id", message=(
            f"offer {offer_id} expired at {found.expires_at.isoformat()}"))))
    return found, problems


def _proposal_problems(case: CaseFacts, offers: OfferBook, now: datetime, proposals: Sequence[DateWindow],
                       field: str = "proposals") -> Problems:
    start, end = offer_window(case, offers, now)
    problems: Problems = []
    for index, proposal in enumerate(proposals):
        if proposal.end <= proposal.start:
            problems.append((ProposalOutsideWindow, Reason(field=f"{field}.{index}", message=(
                f"proposal {index + 1} ends before it starts"))))
        elif proposal.start < start or proposal.end > end:
            problems.append((ProposalOutsideWindow, Reason(field=f"{field}.{index}", message=(
                f"proposal {index + 1} ({proposal.start.isoformat()} - {proposal.end.isoformat()}) is outside the "
                f"offer window {start.isoformat()} - {end.isoformat()}"))))
    return problems


def _offered(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, record: CallOffers,
             now: datetime, cause: str, proposals: list[DateWindow] | None, failing_ok: bool = True) -> OfferChange:
    """A new offer for the record's call, replacing whatever it had (its holds are not counted)."""
    call_id, policy = record.call_id, case.policy
    start, end = offer_window(case, offers, now)
    request = SlotRequest(call_id=call_id, mediator=case.mediator, party=party, session=case.session, policy=policy,
                          now=now, not_before=start, not_after=end, availability=calendar.availability)
    within = [(proposal.start, proposal.end) for proposal in proposals] if proposals else None
    avoid = [Slot(slot.start, slot.end) for slot in record.declined]
    found = find_slots(request, blocking(calendar, offers, except_call=call_id), policy.offer_slots, within, avoid)
    if isinstance(found, NoSlot):
        if not failing_ok:
            _refuse(NoSlotInProposals, [Reason(field="proposals", message=found.reason)])
        record = record.model_copy(update={"causes": record.with_cause(cause)})
        return OfferChange(calendar, offers.with_call(record), (_failed(case, party, found.reason),), True)
    number = record.made + 1
    offer_id = offer_id_of(call_id, number)
    slots = tuple(HeldSlot(slot_id=slot_id_of(offer_id, index), start=slot.start, end=slot.end)
                  for index, slot in enumerate(found))
    sequence = 0 if record.last_sequence is None else record.last_sequence
    deadline = min(now + timedelta(hours=policy.offer_response_hours),
                   slots[0].start - timedelta(hours=policy.minimum_notice_hours))
    new = Offer(offer_id=offer_id, number=number, call_id=call_id, case_id=case.case_id, party_id=party.party_id,
                side_firm_id=case.side_firm(party.party_id), slots=slots, made_at=now, expires_at=max(deadline, now),
                window_start=start, window_end=end, sequence=sequence)
    past = record.past if record.current is None else (*record.past, record.current)[-PAST_OFFERS_KEPT:]
    record = record.model_copy(update={"made": number, "current": new, "past": past,
                                       "causes": record.with_cause(cause)})
    message = CallSlotsOffered(
        call_id=call_id, case_id=case.case_id, party_id=party.party_id, mediator_id=case.mediator.mediator_id,
        sequence=sequence, offer_id=offer_id,
        slots=[OfferedSlot(slot_id=slot.slot_id, start=slot.start, end=slot.end) for slot in slots],
        expires_at=new.expires_at, attendees=attendees(case, party), participant_firms=case.participant_firms,
        side_firm_id=new.side_firm_id)
    return OfferChange(calendar, offers.with_call(record), (message,), True)


def _book(calendar: CalendarState, offers: OfferBook, case: CaseFacts, party: Party, current: Offer,
          slot: HeldSlot, by: BookedBy, now: datetime, cause: str, place: Place | None) -> OfferChange:
    call_id = call_id_of(case.case_id, party.party_id)
    record = offers.of(call_id)
    assert record is not None
    sequence = 0 if record.last_sequence is None else record.last_sequence + 1
    where = record.place or place
    booked = Booked(call_id=call_id, case_id=case.case_id, party_id=party.party_id, start=slot.start, end=slot.end,
                    sequence=sequence, cause=cause, place=where)
    closed = current.closed(OfferStatus.CHOSEN, now, chosen_slot_id=slot.slot_id, booked_by=by)
    record = _ended(record, closed).model_copy(update={"causes": record.with_cause(cause), "last_sequence": sequence,
                                                       "place": where})
    scheduled = CallScheduled(
        call_id=call_id, case_id=case.case_id, party_id=party.party_id, mediator_id=case.mediator.mediator_id,
        sequence=sequence, start=slot.start, end=slot.end, attendees=attendees(case, party),
        participant_firms=case.participant_firms, side_firm_id=case.side_firm(party.party_id), place=where, booked_by=by)
    calendar = calendar.model_copy(update={"calls": {**calendar.calls, call_id: booked}})
    return OfferChange(calendar, offers.with_call(record), (scheduled,), True)


def _ended(record: CallOffers, closed: Offer, declined: Iterable[HeldSlot] = ()) -> CallOffers:
    return record.model_copy(update={"current": closed,
                                     "declined": (*record.declined, *declined)[-DECLINED_KEPT:]})


def _failed(case: CaseFacts, party: Party, reason: str) -> SchedulingFailed:
    return SchedulingFailed(case_id=case.case_id, firm_id=case.firm_id, mediator_id=case.mediator.mediator_id,
                            party_id=party.party_id, call_id=call_id_of(case.case_id, party.party_id),
                            reason=reason, participant_firms=case.participant_firms,
                            side_firm_id=case.side_firm(party.party_id))


__all__ = ["MEDIATOR", "SIGNED_LINK", "ForeignOffer", "NoSlotInProposals", "OfferChange", "OfferExpired",
           "OfferNotCurrent", "OfferRefused", "ProposalOutsideWindow", "SideNotConfirmed", "SlotNotOffered",
           "UnknownAttendee", "UnknownCall", "UnknownOffer", "UnknownSequence", "blocking", "booked_by", "choose",
           "decline", "expire", "forget", "linked", "offer", "offer_window", "reply", "revalidate", "withdraw"]

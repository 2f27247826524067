"""The life of a pre-mediation call, as pure functions of (calendar or case state, now) -> new state + messages.

A call is placed on its mediator's calendar (the source of truth for when it is: placing, moving, cancelling and
missing it change the calendar, one compare-and-set there keeps the mediator from being double-booked) and mirrored
into its case, where it is completed. Its states and the transitions the lifecycle allows:

    (none) --place--> scheduled --reschedule / revalidate / missed once--> scheduled
    (none) --place, no slot--> failed --case changed--> scheduled | failed
    scheduled --cancel (the mediator, a withdrawal, the side declined or unconfirmed)--> cancelled
    scheduled --missed twice, or no new slot--> failed
    cancelled | failed --placed again by the mediator--> scheduled | failed
    (none) | cancelled | failed --waived by the mediator--> waived (a booked call is cancelled first); final
    scheduled --complete (not before it starts)--> completed; final
    every call completed or waived (declined sides aside), at least one completed: PreMediationCompleted

Only a confirmed side's party is placed (an unconfirmed side's call goes to nobody). Each call's events carry the
side's firm (`side_firm_id`) and its place, made once when the call is first booked and kept by every move.

`NEXT` is that table for the case's view; a new step of the lifecycle (offers, holds) is a status and its edges.

Every calendar change records the id of its cause: a cause seen again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from collections.abc import Callable

from mednet_shared.contracts.events import (
    CallCancelled,
    CallCompleted,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CallWaived,
    CaseUpdated,
    Message,
    PreMediationCompleted,
    SchedulingFailed,
)
from mednet_shared.contracts.values import Party

from .people import attendees, call_id_of, ids_of_call
from .places import Secrets, new_place
from .slots import Calendar, MediatorAvailability, NoSlot, Slot, SlotRequest, find_slot, violations
from .state import Booked, CalendarState, CallState, CallStatus, CaseFacts, CaseState

MISSES_BEFORE_FAILING = 2

NEXT: dict[CallStatus | None, frozenset[CallStatus]] = {
    None: frozenset({CallStatus.OFFERED, CallStatus.SCHEDULED, CallStatus.FAILED, CallStatus.WAIVED}),
    CallStatus.OFFERED: frozenset({CallStatus.OFFERED, CallStatus.SCHEDULED, CallStatus.FAILED,
                                   CallStatus.CANCELLED}),
    CallStatus.SCHEDULED: frozenset({CallStatus.SCHEDULED, CallStatus.CANCELLED, CallStatus.FAILED,
                                     CallStatus.COMPLETED, CallStatus.OFFERED}),
    CallStatus.FAILED: frozenset({CallStatus.OFFERED, CallStatus.SCHEDULED, CallStatus.FAILED, CallStatus.WAIVED}),
    CallStatus.CANCELLED: frozenset({CallStatus.OFFERED, CallStatus.SCHEDULED, CallStatus.FAILED,
                                     CallStatus.WAIVED}),
    CallStatus.COMPLETED: frozenset(),
    CallStatus.WAIVED: frozenset(),
}
"""The statuses a call's case view may take next, by its current one (None: no call yet). A scheduled or offered
call is waived through cancelled (its booking or offer is released first)."""

OPEN = frozenset({CallStatus.SCHEDULED, CallStatus.OFFERED})
"""A call still open: booked, or offered and not answered yet."""

Draw = Callable[[], Secrets]


class CallNotFound(LookupError):
    pass


class CallStateError(Exception):
    """The call (or case) is not in a state that allows this, e.g. completing a cancelled call."""


class Placement(StrEnum):
    SCHEDULE = "schedule"
    """Only if the party has no call on the calendar yet."""
    RESCHEDULE = "reschedule"
    """Move the call to the earliest slot (not before not_before)."""
    REVALIDATE = "revalidate"
    """Move the call only if it no longer fits the rules."""


@dataclass(frozen=True)
class Change:
    """A calendar after a decision and the messages it causes; no messages: nothing to write."""

    calendar: CalendarState
    messages: tuple[Message, ...] = ()
    booked: dict[str, Booked | None] = field(default_factory=dict)
    """Per party id: its call on the calendar after the decision (None: not on it)."""


# -- on the mediator's calendar ----------------------------------------------------------------------


def place(calendar: CalendarState, case: CaseFacts, parties: list[Party], now: datetime, cause: str,
          mode: Placement = Placement.SCHEDULE, not_before: datetime | None = None, reason: str = "",
          draw: Draw | None = None, after: dict[str, int] | None = None) -> Change:
    """The earliest slot that satisfies every rule, for each party of a confirmed side in turn (so a case's calls
    never overlap). draw: the random values of a new call's place (needed when the mediator has a profile);
    after: per party, the last sequence its call had before it left the calendar (a call placed again goes on)."""
    calls, messages, booked = dict(calendar.calls), [], {}
    for party in parties:
        if not case.confirmed(party.party_id):
            continue
        call_id = call_id_of(case.case_id, party.party_id)
        if not _seen(calls, call_id, cause):
            messages += _placement(calls, calendar, case, party, now, cause, mode, not_before, reason, draw,
                                   (after or {}).get(party.party_id))
        booked[party.party_id] = calls.get(call_id)
    return _changed(calendar, calls, messages, booked)


def cancel(calendar: CalendarState, case: CaseFacts, party: Party, cause: str, reason: str) -> Change:
    calls, call_id = dict(calendar.calls), call_id_of(case.case_id, party.party_id)
    current = calls.get(call_id)
    if current is None or current.cause == cause:
        return Change(calendar, booked={party.party_id: current})
    del calls[call_id]
    cancelled = CallCancelled(call_id=call_id, case_id=case.case_id, party_id=party.party_id,
                              mediator_id=case.mediator.mediator_id, sequence=current.sequence + 1, reason=reason,
                              attendees=attendees(case, party), participant_firms=case.participant_firms,
                              start=current.start, end=current.end, side_firm_id=_booking_firm(case, party),
                              place=current.place)
    return _changed(calendar, calls, [cancelled], {party.party_id: None})


def _booking_firm(case: CaseFacts, party: Party) -> str | None:
    """The firm a booked call's cancellation goes to: its side's firm, also when that side has just declined (it had
    the call, so it hears that the call is off; nobody else does)."""
    side = case.side(party.party_id)
    return case.side_firm(party.party_id) or (side.firm_id if side is not None else None)


def miss(calendar: CalendarState, case: CaseFacts, party: Party, now: datetime, cause: str,
         view: CallState | None = None) -> Change:
    """A missed call is rescheduled once (after its end); missed again, or with no slot left, it fails. view: the
    case's view of the call, when known: a call completed (or waived) there is not missed, though its booking
    stays on the calendar."""
    calls, call_id = dict(calendar.calls), call_id_of(case.case_id, party.party_id)
    current = calls.get(call_id)
    if view is not None and view.status is not CallStatus.SCHEDULED:
        raise CallStateError(f"call {call_id} is {view.status.value}, not scheduled")
    if current is None:
        raise CallStateError(f"call {call_id} is not scheduled")
    if current.cause == cause:
        return Change(calendar, booked={party.party_id: current})
    if now < current.start:
        raise CallStateError(f"call {call_id} starts at {current.start.isoformat()}: it cannot be missed before "
                             "it starts")
    count = current.missed_count + 1
    missed = CallMissed(call_id=call_id, case_id=case.case_id, party_id=party.party_id,
                        mediator_id=case.mediator.mediator_id, sequence=current.sequence, missed_count=count,
                        participant_firms=case.participant_firms, side_firm_id=case.side_firm(party.party_id))
    del calls[call_id]
    if count >= MISSES_BEFORE_FAILING:
        return _changed(calendar, calls, [missed, failed(case, party, f"the call was missed {count} times")],
                        {party.party_id: None})
    found = find_slot(_request(case, party, now, current.end, calendar.availability), _calendar_of(calls, calendar))
    if isinstance(found, NoSlot):
        return _changed(calendar, calls, [missed, failed(case, party, f"missed, and no new slot: {found.reason}")],
                        {party.party_id: None})
    moved = _booked(case, party, found, current.sequence + 1, count, cause, current.place)
    calls[call_id] = moved
    return _changed(calendar, calls, [missed, _scheduled(CallRescheduled, case, party, moved, previous_start=current.start,
                                                        reason="the previous call was missed")],
                    {party.party_id: moved})


def with_availability(calendar: CalendarState, availability: MediatorAvailability) -> CalendarState:
    return calendar.model_copy(update={"availability": availability})


def _placement(calls: dict[str, Booked], calendar: CalendarState, case: CaseFacts, party: Party,
               now: datetime, cause: str, mode: Placement, not_before: datetime | None, reason: str,
               draw: Draw | None, after: int | None) -> list[Message]:
    call_id = call_id_of(case.case_id, party.party_id)
    current = calls.get(call_id)
    if (current is None) != (mode is Placement.SCHEDULE):
        return []
    request = _request(case, party, now, not_before, calendar.availability)
    calendar_now = _calendar_of(calls, calendar)
    if mode is Placement.REVALIDATE and not violations(request, calendar_now, Slot(current.start, current.end)):
        return []
    found = find_slot(request, calendar_now)
    if isinstance(found, NoSlot):
        calls.pop(call_id, None)
        return [failed(case, party, found.reason)]
    if current is not None:
        where = current.place
    elif calendar.conferencing is None:
        where = None
    elif draw is None:
        raise ValueError("placing a call for a mediator with a conferencing profile needs a draw of secrets")
    else:
        where = new_place(calendar.conferencing, draw, (record.place for record in calls.values()))
    sequence = current.sequence + 1 if current else (after + 1 if after is not None else 0)
    record = _booked(case, party, found, sequence, current.missed_count if current else 0, cause, where)
    calls[call_id] = record
    if current is None:
        return [_scheduled(CallScheduled, case, party, record)]
    return [_scheduled(CallRescheduled, case, party, record, previous_start=current.start, reason=reason)]


def _seen(calls: dict[str, Booked], call_id: str, cause: str) -> bool:
    current = calls.get(call_id)
    return current is not None and current.cause == cause


def _changed(calendar: CalendarState, calls: dict[str, Booked], messages: list[Message],
             booked: dict[str, Booked | None]) -> Change:
    if not messages:
        return Change(calendar, booked=booked)
    return Change(calendar.model_copy(update={"calls": calls}), tuple(messages), booked)


def _calendar_of(calls: dict[str, Booked], calendar: CalendarState) -> Calendar:
    """What blocks a slot: the bookings being decided and every open offer's holds."""
    return Calendar([*(record.booking() for record in calls.values()), *calendar.offers.holds()])


def _request(case: CaseFacts, party: Party, now: datetime, not_before: datetime | None,
             availability: MediatorAvailability) -> SlotRequest:
    return SlotRequest(call_id=call_id_of(case.case_id, party.party_id), mediator=case.mediator, party=party,
                       session=case.session, policy=case.policy, now=now, not_before=not_before,
                       availability=availability)


def _booked(case: CaseFacts, party: Party, slot: Slot, sequence: int, missed_count: int, cause: str,
            where=None) -> Booked:
    return Booked(call_id=call_id_of(case.case_id, party.party_id), case_id=case.case_id, party_id=party.party_id,
                  start=slot.start, end=slot.end, sequence=sequence, missed_count=missed_count, cause=cause,
                  place=where)


def _scheduled(kind: type[CallScheduled], case: CaseFacts, party: Party, record: Booked, **extra) -> CallScheduled:
    return kind(call_id=record.call_id, case_id=case.case_id, party_id=party.party_id,
                mediator_id=case.mediator.mediator_id, sequence=record.sequence, start=record.start, end=record.end,
                attendees=attendees(case, party), participant_firms=case.participant_firms,
                side_firm_id=case.side_firm(party.party_id), place=record.place, booked_by="system", **extra)


def failed(case: CaseFacts, party: Party, reason: str) -> SchedulingFailed:
    return SchedulingFailed(case_id=case.case_id, firm_id=case.firm_id, mediator_id=case.mediator.mediator_id,
                            party_id=party.party_id, call_id=call_id_of(case.case_id, party.party_id), reason=reason,
                            participant_firms=case.participant_firms, side_firm_id=case.side_firm(party.party_id))


# -- in the case ---------------------------------------------------------------------------------------


def opened(facts: CaseFacts, change: Change) -> CaseState:
    """The case as its CaseOpened placed it: each party's call as the calendar holds it."""
    calls = {}
    for party in facts.parties:
        call = mirror(None, facts, party.party_id, change)
        if call is not None:
            calls[party.party_id] = call
    return CaseState(case_id=facts.case_id, facts=facts, calls=calls)


def mirror(previous: CallState | None, facts: CaseFacts, party_id: str, change: Change) -> CallState | None:
    """The case's view of a party's call after a calendar change; None: the view stays as it is. A completed call
    stays completed (a placement replayed after a crash must not undo it); a call gone from the calendar without a
    failure was cancelled. The view's sequence is always the one of the call's last event."""
    call_id, booked = call_id_of(facts.case_id, party_id), change.booked.get(party_id)
    if booked is not None:
        call = CallState(party_id=party_id, call_id=call_id, status=CallStatus.SCHEDULED, start=booked.start,
                         end=booked.end, sequence=booked.sequence, missed_count=booked.missed_count,
                         place=booked.place)
    elif failure := next((m for m in change.messages if isinstance(m, SchedulingFailed) and m.party_id == party_id),
                         None):
        missed = next((m for m in change.messages if isinstance(m, CallMissed) and m.party_id == party_id), None)
        call = CallState(party_id=party_id, call_id=call_id, status=CallStatus.FAILED, reason=failure.reason,
                         sequence=missed.sequence if missed else previous.sequence if previous else None,
                         missed_count=missed.missed_count if missed else None)
    elif previous is not None and previous.status is CallStatus.SCHEDULED:
        cancelled = next((m for m in change.messages if isinstance(m, CallCancelled) and m.party_id == party_id),
                         None)
        sequence = cancelled.sequence if cancelled else (previous.sequence or 0) + 1
        call = previous.model_copy(update={"status": CallStatus.CANCELLED, "sequence": sequence,
                                           "reason": cancelled.reason if cancelled else previous.reason})
    else:
        return None
    allowed = NEXT[previous.status if previous else None]
    return None if call == previous or call.status not in allowed else call


def with_call(state: CaseState, call: CallState) -> CaseState:
    return state.model_copy(update={"calls": {**state.calls, call.party_id: call}})


def complete(state: CaseState, party_id: str, now: datetime, *, early: bool = False) -> tuple[CaseState, list[Message]]:
    """The call completed (not before it starts, unless `early`: a played mediator on a local stack); when every
    call is completed or waived, the pre-mediation is. Completing twice changes nothing."""
    call, facts = state.calls.get(party_id), state.facts
    if call is None:
        raise CallNotFound(call_id_of(state.case_id, party_id))
    if call.status is CallStatus.COMPLETED:
        return state, []
    if CallStatus.COMPLETED not in NEXT[call.status]:
        raise CallStateError(f"call {call.call_id} is {call.status}")
    if call.start is not None and now < call.start and not early:
        raise CallStateError(f"call {call.call_id} starts at {call.start.isoformat()}: its completion before it "
                             "starts is refused")
    state = with_call(state, call.model_copy(update={"status": CallStatus.COMPLETED, "completed_at": now}))
    messages: list[Message] = [CallCompleted(
        call_id=call.call_id, case_id=facts.case_id, party_id=party_id, mediator_id=facts.mediator.mediator_id,
        sequence=call.sequence or 0, completed_at=now, participant_firms=facts.participant_firms,
        side_firm_id=facts.side_firm(party_id))]
    return _completion(state, messages, now)


def waive(state: CaseState, party_id: str, reason: str, now: datetime) -> tuple[CaseState, list[Message]]:
    """The mediator decides the party's call will not take place: from no call yet, cancelled or failed (a booked
    call is released from the calendar first). Waiving twice changes nothing."""
    facts, call = state.facts, state.calls.get(party_id)
    if facts.party(party_id) is None:
        raise CallNotFound(call_id_of(state.case_id, party_id))
    if not reason.strip():
        raise CallStateError("a waiver needs a reason")
    if call is not None and call.status is CallStatus.WAIVED:
        return state, []
    status = call.status if call else None
    if CallStatus.WAIVED not in NEXT[status]:
        raise CallStateError(f"call {call_id_of(state.case_id, party_id)} is {status}: "
                             + ("release its booking first" if status is CallStatus.SCHEDULED else "it cannot be waived"))
    call_id = call_id_of(state.case_id, party_id)
    sequence = call.sequence if call and call.sequence is not None else 0
    waived = (call or CallState(party_id=party_id, call_id=call_id, status=CallStatus.WAIVED)).model_copy(
        update={"status": CallStatus.WAIVED, "reason": reason, "waived_at": now, "sequence": sequence})
    state = with_call(state, waived)
    messages: list[Message] = [CallWaived(
        call_id=call_id, case_id=facts.case_id, party_id=party_id, mediator_id=facts.mediator.mediator_id,
        sequence=sequence, reason=reason, waived_at=now, participant_firms=facts.participant_firms,
        side_firm_id=facts.side_firm(party_id))]
    return _completion(state, messages, now)


def _completion(state: CaseState, messages: list[Message], now: datetime) -> tuple[CaseState, list[Message]]:
    """PreMediationCompleted once every call (a declined side's aside) is completed or waived, one at least
    completed, in a case still open (a withdrawn case completes nothing)."""
    facts = state.facts
    due = [p.party_id for p in facts.parties if not facts.declined(p.party_id)]
    statuses = {p: state.calls[p].status if p in state.calls else None for p in due}
    done = [p for p in due if statuses[p] is CallStatus.COMPLETED]
    waived = [p for p in due if statuses[p] is CallStatus.WAIVED]
    if state.completed or state.status != "open" or not done or len(done) + len(waived) != len(due):
        return state, messages
    state = state.model_copy(update={"completed": True})
    return state, [*messages, PreMediationCompleted(
        case_id=facts.case_id, mediator_id=facts.mediator.mediator_id,
        call_ids=[call_id_of(facts.case_id, p) for p in done],
        waived_call_ids=[call_id_of(facts.case_id, p) for p in waived], completed_at=now,
        participant_firms=facts.participant_firms)]


def ensure_scheduled(state: CaseState, party_id: str) -> None:
    call = state.calls.get(party_id)
    if call is None or call.status is not CallStatus.SCHEDULED:
        raise CallStateError(f"call {call_id_of(state.case_id, party_id)} is not scheduled")


def ensure_placeable_again(state: CaseState, party_id: str) -> int | None:
    """A call the mediator may offer (place) again: cancelled or failed, of a confirmed side, in an open case.
    Returns the call's last sequence (the new booking goes on from it)."""
    call, call_id = state.calls.get(party_id), call_id_of(state.case_id, party_id)
    if state.status != "open":
        raise CallStateError(f"case {state.case_id} is {state.status}")
    if not state.facts.confirmed(party_id):
        raise CallStateError(f"the side of party {party_id} is not confirmed")
    if call is None or call.status not in (CallStatus.CANCELLED, CallStatus.FAILED):
        raise CallStateError(f"call {call_id} is {call.status if call else 'not placed yet'}: only a cancelled or "
                             "failed call is placed again")
    return call.sequence


def revised(state: CaseState | None, update: CaseUpdated) -> CaseState | None:
    """The case at intake's newer revision; None when this revision is not newer (seen already). An update without
    sides keeps the sides known (an older producer's update never confirms a side)."""
    if state is None:
        raise CallStateError(f"case {update.case_id} is unknown here (CaseOpened not seen yet)")
    if update.revision <= state.revision:
        return None
    facts = state.facts.model_copy(update={"session": update.session, "parties": update.parties,
                                           "participant_firms": update.participant_firms,
                                           "sides": update.sides or state.facts.sides})
    return state.model_copy(update={"facts": facts, "revision": update.revision})


def placements_after_change(state: CaseState) -> list[tuple[Party, Placement]]:
    """After the case changed: confirmed sides' scheduled calls are moved if they no longer fit; confirmed sides
    without a call (new ones, just confirmed, or failed) are placed again. A withdrawn case places nothing."""
    placements = []
    if state.status != "open":
        return placements
    for party in state.facts.confirmed_parties():
        status = state.calls[party.party_id].status if party.party_id in state.calls else None
        if status in (CallStatus.SCHEDULED, CallStatus.OFFERED):
            placements.append((party, Placement.REVALIDATE))
        elif status in (None, CallStatus.FAILED):
            placements.append((party, Placement.SCHEDULE))
    return placements


def cancellations_after_change(state: CaseState) -> list[Party]:
    """After the case changed: the parties whose side is no longer confirmed (declined) and whose call is booked."""
    return [party for party in state.facts.parties if not state.facts.confirmed(party.party_id)
            and party.party_id in state.calls and state.calls[party.party_id].status in OPEN]


def open_calls(state: CaseState) -> list[Party]:
    """The parties whose call is still booked (what a withdrawal cancels; a completed call stays completed)."""
    return [party for party in state.facts.parties
            if party.party_id in state.calls and state.calls[party.party_id].status in OPEN]


def last_sequence(state: CaseState | None, party_id: str) -> int | None:
    call = state.calls.get(party_id) if state else None
    return call.sequence if call is not None else None


def withdrawn(state: CaseState) -> CaseState | None:
    return None if state.status == "withdrawn" else state.model_copy(update={"status": "withdrawn"})


# -- the case's view after an offer decision ---------------------------------------------------------------


def offer_withdrawn(calendar: CalendarState, case: CaseFacts, party: Party, previous: CallState | None,
                    reason: str) -> CallCancelled | None:
    """The side is told its open offer ended without a booking (its links stop working): a CallCancelled without a
    time, at the call's sequence after its last event. None when the call had no open offer."""
    if previous is None or previous.status is not CallStatus.OFFERED:
        return None
    return CallCancelled(call_id=call_id_of(case.case_id, party.party_id), case_id=case.case_id,
                         party_id=party.party_id, mediator_id=case.mediator.mediator_id,
                         sequence=(previous.sequence or 0) + 1, reason=reason, attendees=attendees(case, party),
                         participant_firms=case.participant_firms, side_firm_id=case.side_firm(party.party_id))


def view_after(previous: CallState | None, facts: CaseFacts, party_id: str, calendar: CalendarState,
               messages: tuple[Message, ...] | list[Message]) -> CallState | None:
    """The case's view of a party's call from the calendar after a decision (bookings and offers); None: the view
    stays as it is. Booked: scheduled; an open offer: offered; else failed (a SchedulingFailed of the decision) or
    cancelled (an open call gone). Its sequence is the one of the call's last event."""
    call_id = call_id_of(facts.case_id, party_id)
    booked, record = calendar.calls.get(call_id), calendar.offers.of(call_id)
    current = record.current if record else None
    own = [m for m in messages if getattr(m, "party_id", None) == party_id and getattr(m, "case_id", None) ==
           facts.case_id]
    if booked is not None:
        call = CallState(party_id=party_id, call_id=call_id, status=CallStatus.SCHEDULED, start=booked.start,
                         end=booked.end, sequence=booked.sequence, missed_count=booked.missed_count,
                         place=booked.place)
    elif current is not None and current.is_open:
        call = CallState(party_id=party_id, call_id=call_id, status=CallStatus.OFFERED, sequence=current.sequence,
                         offer_id=current.offer_id, expires_at=current.expires_at, place=record.place)
    elif failure := next((m for m in own if isinstance(m, SchedulingFailed)), None):
        call = CallState(party_id=party_id, call_id=call_id, status=CallStatus.FAILED, reason=failure.reason,
                         sequence=previous.sequence if previous else None)
    elif previous is not None and previous.status in OPEN:
        cancelled = next((m for m in own if isinstance(m, CallCancelled)), None)
        sequence = cancelled.sequence if cancelled else (previous.sequence or 0) + 1
        call = CallState(party_id=party_id, call_id=call_id, status=CallStatus.CANCELLED, sequence=sequence,
                         reason=cancelled.reason if cancelled else previous.reason, start=previous.start,
                         end=previous.end, place=previous.place)
    else:
        return None
    if previous is not None and previous.status is CallStatus.COMPLETED:
        return None
    allowed = NEXT[previous.status if previous else None]
    return None if call == previous or call.status not in allowed else call

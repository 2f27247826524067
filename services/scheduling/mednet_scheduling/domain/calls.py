"""The life of a pre-mediation call, as pure functions of (calendar or case state, now) -> new state + messages.

A call is placed on its mediator's calendar (the source of truth for when it is: placing, moving, cancelling and
missing it change the calendar, one compare-and-set there keeps the mediator from being double-booked) and mirrored
into its case, where it is completed. Its states and the transitions the lifecycle allows:

    (none) --place--> scheduled --reschedule / revalidate / missed once--> scheduled
    (none) --place, no slot--> failed --case changed--> scheduled | failed
    scheduled --cancel--> cancelled          scheduled --missed twice, or no new slot--> failed
    scheduled --complete--> completed (all of a case's calls completed: PreMediationCompleted); completed is final

`NEXT` is that table for the case's view; a new step of the lifecycle (offers, holds) is a status and its edges.

Every calendar change records the id of its cause: a cause seen again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from mednet_shared.contracts.events import (
    CallCancelled,
    CallCompleted,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CaseUpdated,
    Message,
    PreMediationCompleted,
    SchedulingFailed,
)
from mednet_shared.contracts.values import Attendee, AttendeeKind, Party

from .slots import Calendar, MediatorAvailability, NoSlot, Slot, SlotRequest, find_slot, violations
from .state import Booked, CalendarState, CallState, CallStatus, CaseFacts, CaseState

MISSES_BEFORE_FAILING = 2

NEXT: dict[CallStatus | None, frozenset[CallStatus]] = {
    None: frozenset({CallStatus.SCHEDULED, CallStatus.FAILED}),
    CallStatus.SCHEDULED: frozenset({CallStatus.SCHEDULED, CallStatus.CANCELLED, CallStatus.FAILED,
                                     CallStatus.COMPLETED}),
    CallStatus.FAILED: frozenset({CallStatus.SCHEDULED, CallStatus.FAILED}),
    CallStatus.CANCELLED: frozenset({CallStatus.SCHEDULED, CallStatus.FAILED}),
    CallStatus.COMPLETED: frozenset(),
}
"""The statuses a call's case view may take next, by its current one (None: no call yet)."""


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


def call_id_of(case_id: str, party_id: str) -> str:
    return f"{case_id}:{party_id}"


def ids_of_call(call_id: str) -> tuple[str, str]:
    """(case_id, party_id) of a call id; empty strings when it names none."""
    case_id, _, party_id = call_id.rpartition(":")
    return case_id, party_id


def attendees(case: CaseFacts, party: Party) -> list[Attendee]:
    people = [Attendee(kind=AttendeeKind.PARTY, name=party.contact.name, email=party.contact.email,
                       time_zone=party.time_zone, firm_id=party.attorney.firm_id if party.attorney else None)]
    if party.attorney:
        people.append(Attendee(kind=AttendeeKind.ATTORNEY, name=party.attorney.name, email=party.attorney.email,
                               time_zone=party.attorney.time_zone or party.time_zone, firm_id=party.attorney.firm_id))
    mediator = case.mediator
    people.append(Attendee(kind=AttendeeKind.MEDIATOR, name=mediator.name, email=mediator.email,
                           time_zone=mediator.time_zone))
    return people


# -- on the mediator's calendar ----------------------------------------------------------------------


def place(calendar: CalendarState, case: CaseFacts, parties: list[Party], now: datetime, cause: str,
          mode: Placement = Placement.SCHEDULE, not_before: datetime | None = None, reason: str = "") -> Change:
    """The earliest slot that satisfies every rule, for each party in turn (so a case's calls never overlap)."""
    calls, messages, booked = dict(calendar.calls), [], {}
    for party in parties:
        call_id = call_id_of(case.case_id, party.party_id)
        if not _seen(calls, call_id, cause):
            messages += _placement(calls, calendar.availability, case, party, now, cause, mode, not_before, reason)
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
                              start=current.start, end=current.end)
    return _changed(calendar, calls, [cancelled], {party.party_id: None})


def miss(calendar: CalendarState, case: CaseFacts, party: Party, now: datetime, cause: str) -> Change:
    """A missed call is rescheduled once (after its end); missed again, or with no slot left, it fails."""
    calls, call_id = dict(calendar.calls), call_id_of(case.case_id, party.party_id)
    current = calls.get(call_id)
    if current is None:
        raise CallStateError(f"call {call_id} is not scheduled")
    if current.cause == cause:
        return Change(calendar, booked={party.party_id: current})
    count = current.missed_count + 1
    missed = CallMissed(call_id=call_id, case_id=case.case_id, party_id=party.party_id,
                        mediator_id=case.mediator.mediator_id, sequence=current.sequence, missed_count=count,
                        participant_firms=case.participant_firms)
    del calls[call_id]
    if count >= MISSES_BEFORE_FAILING:
        return _changed(calendar, calls, [missed, failed(case, party, f"the call was missed {count} times")],
                        {party.party_id: None})
    found = find_slot(_request(case, party, now, current.end, calendar.availability), _calendar_of(calls))
    if isinstance(found, NoSlot):
        return _changed(calendar, calls, [missed, failed(case, party, f"missed, and no new slot: {found.reason}")],
                        {party.party_id: None})
    moved = _booked(case, party, found, current.sequence + 1, count, cause)
    calls[call_id] = moved
    return _changed(calendar, calls, [missed, _scheduled(CallRescheduled, case, party, moved, previous_start=current.start,
                                                        reason="the previous call was missed")],
                    {party.party_id: moved})


def with_availability(calendar: CalendarState, availability: MediatorAvailability) -> CalendarState:
    return calendar.model_copy(update={"availability": availability})


def _placement(calls: dict[str, Booked], availability: MediatorAvailability, case: CaseFacts, party: Party,
               now: datetime, cause: str, mode: Placement, not_before: datetime | None, reason: str) -> list[Message]:
    call_id = call_id_of(case.case_id, party.party_id)
    current = calls.get(call_id)
    if (current is None) != (mode is Placement.SCHEDULE):
        return []
    request = _request(case, party, now, not_before, availability)
    calendar_now = _calendar_of(calls)
    if mode is Placement.REVALIDATE and not violations(request, calendar_now, Slot(current.start, current.end)):
        return []
    found = find_slot(request, calendar_now)
    if isinstance(found, NoSlot):
        calls.pop(call_id, None)
        return [failed(case, party, found.reason)]
    record = _booked(case, party, found, current.sequence + 1 if current else 0,
                     current.missed_count if current else 0, cause)
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


def _calendar_of(calls: dict[str, Booked]) -> Calendar:
    return Calendar(record.booking() for record in calls.values())


def _request(case: CaseFacts, party: Party, now: datetime, not_before: datetime | None,
             availability: MediatorAvailability) -> SlotRequest:
    return SlotRequest(call_id=call_id_of(case.case_id, party.party_id), mediator=case.mediator, party=party,
                       session=case.session, policy=case.policy, now=now, not_before=not_before,
                       availability=availability)


def _booked(case: CaseFacts, party: Party, slot: Slot, sequence: int, missed_count: int, cause: str) -> Booked:
    return Booked(call_id=call_id_of(case.case_id, party.party_id), case_id=case.case_id, party_id=party.party_id,
                  start=slot.start, end=slot.end, sequence=sequence, missed_count=missed_count, cause=cause)


def _scheduled(kind: type[CallScheduled], case: CaseFacts, party: Party, record: Booked, **extra) -> CallScheduled:
    return kind(call_id=record.call_id, case_id=case.case_id, party_id=party.party_id,
                mediator_id=case.mediator.mediator_id, sequence=record.sequence, start=record.start, end=record.end,
                attendees=attendees(case, party), participant_firms=case.participant_firms, **extra)


def failed(case: CaseFacts, party: Party, reason: str) -> SchedulingFailed:
    return SchedulingFailed(case_id=case.case_id, firm_id=case.firm_id, mediator_id=case.mediator.mediator_id,
                            party_id=party.party_id, call_id=call_id_of(case.case_id, party.party_id), reason=reason,
                            participant_firms=case.participant_firms)


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
    failure was cancelled."""
    call_id, booked = call_id_of(facts.case_id, party_id), change.booked.get(party_id)
    if booked is not None:
        call = CallState(party_id=party_id, call_id=call_id, status=CallStatus.SCHEDULED, start=booked.start,
                         end=booked.end, sequence=booked.sequence, missed_count=booked.missed_count)
    elif failure := next((m for m in change.messages if isinstance(m, SchedulingFailed) and m.party_id == party_id),
                         None):
        call = CallState(party_id=party_id, call_id=call_id, status=CallStatus.FAILED, reason=failure.reason)
    elif previous is not None and previous.status is CallStatus.SCHEDULED:
        call = previous.model_copy(update={"status": CallStatus.CANCELLED})
    else:
        return None
    allowed = NEXT[previous.status if previous else None]
    return None if call == previous or call.status not in allowed else call


def with_call(state: CaseState, call: CallState) -> CaseState:
    return state.model_copy(update={"calls": {**state.calls, call.party_id: call}})


def complete(state: CaseState, party_id: str, now: datetime) -> tuple[CaseState, list[Message]]:
    """The call completed; when every party's call is, the pre-mediation is. Completing twice changes nothing."""
    call, facts = state.calls.get(party_id), state.facts
    if call is None:
        raise CallNotFound(call_id_of(state.case_id, party_id))
    if call.status is CallStatus.COMPLETED:
        return state, []
    if CallStatus.COMPLETED not in NEXT[call.status]:
        raise CallStateError(f"call {call.call_id} is {call.status}")
    state = with_call(state, call.model_copy(update={"status": CallStatus.COMPLETED, "completed_at": now}))
    messages: list[Message] = [CallCompleted(
        call_id=call.call_id, case_id=facts.case_id, party_id=party_id, mediator_id=facts.mediator.mediator_id,
        sequence=call.sequence or 0, completed_at=now, participant_firms=facts.participant_firms)]
    if all(state.calls.get(p.party_id) and state.calls[p.party_id].status is CallStatus.COMPLETED
           for p in facts.parties):
        state = state.model_copy(update={"completed": True})
        messages.append(PreMediationCompleted(
            case_id=facts.case_id, mediator_id=facts.mediator.mediator_id,
            call_ids=[call_id_of(facts.case_id, p.party_id) for p in facts.parties], completed_at=now,
            participant_firms=facts.participant_firms))
    return state, messages


def ensure_scheduled(state: CaseState, party_id: str) -> None:
    call = state.calls.get(party_id)
    if call is None or call.status is not CallStatus.SCHEDULED:
        raise CallStateError(f"call {call_id_of(state.case_id, party_id)} is not scheduled")


def revised(state: CaseState | None, update: CaseUpdated) -> CaseState | None:
    """The case at intake's newer revision; None when this revision is not newer (seen already)."""
    if state is None:
        raise CallStateError(f"case {update.case_id} is unknown here (CaseOpened not seen yet)")
    if update.revision <= state.revision:
        return None
    facts = state.facts.model_copy(update={"session": update.session, "parties": update.parties,
                                           "participant_firms": update.participant_firms})
    return state.model_copy(update={"facts": facts, "revision": update.revision})


def placements_after_change(state: CaseState) -> list[tuple[Party, Placement]]:
    """After the case changed: scheduled calls are moved if they no longer fit; parties without a call (new ones,
    or failed) are placed again."""
    placements = []
    for party in state.facts.parties:
        status = state.calls[party.party_id].status if party.party_id in state.calls else None
        if status is CallStatus.SCHEDULED:
            placements.append((party, Placement.REVALIDATE))
        elif status in (None, CallStatus.FAILED):
            placements.append((party, Placement.SCHEDULE))
    return placements


def withdrawn(state: CaseState) -> CaseState | None:
    return None if state.status == "withdrawn" else state.model_copy(update={"status": "withdrawn"})

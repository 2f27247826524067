"""Scheduling's use cases, for intake's events, firm commands and the HTTP API.

Every change of a call is one compare-and-set on the mediator's calendar carrying the events it
causes; it records the id of its cause, so a redelivered event changes nothing. The case's view of
its calls is a projection written after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent, derived_id, new_event
from mednet_shared.contracts.events import (
    CallCancelled,
    CallCompleted,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CaseOpened,
    CaseUpdated,
    CaseWithdrawn,
    Message,
    PreMediationCompleted,
    RequestReschedule,
    SchedulingFailed,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Attendee, AttendeeKind, Party, utc_now
from mednet_shared.platform.consumer import Incoming, PoisonMessage

from . import metrics
from .domain import NoSlot, Slot, SlotRequest, find_slot, violations
from .store import CalendarState, CallRecord, CaseState, Conflict, SchedulingStore

SOURCE = "/mednet/scheduling"
CAS_ATTEMPTS = 100


class CallNotFound(LookupError):
    pass


class CallStateError(Exception):
    """The call is not in a state that allows this (e.g. completing a cancelled call)."""


def call_id_of(case_id: str, party_id: str) -> str:
    return f"{case_id}:{party_id}"


def attendees(case: CaseOpened, party: Party) -> list[Attendee]:
    people = [Attendee(kind=AttendeeKind.PARTY, name=party.contact.name, email=party.contact.email,
                       time_zone=party.time_zone, firm_id=party.attorney.firm_id if party.attorney else None)]
    if party.attorney:
        people.append(Attendee(kind=AttendeeKind.ATTORNEY, name=party.attorney.name, email=party.attorney.email,
                               time_zone=party.attorney.time_zone or party.time_zone, firm_id=party.attorney.firm_id))
    mediator = case.mediator
    people.append(Attendee(kind=AttendeeKind.MEDIATOR, name=mediator.name, email=mediator.email,
                           time_zone=mediator.time_zone))
    return people


class Cause:
    """Why something happens: an incoming event, or an HTTP request (with a fresh id). A firm's command is known by
    its sender key (its topic names the firm), so the ids derived from it are the firm's own."""

    def __init__(self, event: CloudEvent | None = None, firm_topic: str | None = None) -> None:
        self.event = event
        self.id = (event.sender_key(firm_topic) if firm_topic else event.id) if event else f"http-{uuid.uuid4()}"

    def emit(self, message: Message, *parts: str) -> CloudEvent:
        firm = self.event.firmid if self.event else None
        return new_event(message, SOURCE, firm_id=firm, caused_by=self.event, event_id=derived_id(self.id, *parts))


class Scheduler:
    def __init__(self, store: SchedulingStore, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock

    # -- placing calls -----------------------------------------------------------------------------

    async def open_case(self, case: CaseOpened, cause: Cause) -> None:
        """Every party's call placed in one compare-and-set on the mediator's calendar (one after another on it, so
        they never overlap), then the case written with its calls."""
        placed = await self._change_calendar_for_all(case, cause, [
            (party, self._placement(case, party, cause, "schedule", None, "")) for party in case.parties])
        projections = [self._projection(case, party, *placed[party.party_id]) for party in case.parties]
        if not await self.store.add_case(case, [p for p in projections if p]):
            for projection in projections:
                if projection:
                    await self.store.project_call(case.case_id, projection)

    async def place(self, case: CaseOpened, party: Party, cause: Cause, *, mode: str = "schedule",
                    not_before: datetime | None = None, reason: str = "") -> None:
        """The earliest slot that satisfies every rule. mode: "schedule" (only if the party has no call yet),
        "reschedule" (move it), "revalidate" (move it only if it no longer fits)."""
        await self._change_calendar(case, party, cause, self._placement(case, party, cause, mode, not_before, reason))

    def _placement(self, case: CaseOpened, party: Party, cause: Cause, mode: str, not_before: datetime | None,
                   reason: str) -> Callable[[CalendarState], list[Message] | None]:
        call_id = call_id_of(case.case_id, party.party_id)

        def change(calendar: CalendarState) -> list[Message] | None:
            current = calendar.calls.get(call_id)
            if (current is None) != (mode == "schedule"):
                return None
            request = SlotRequest(call_id=call_id, mediator=case.mediator, party=party, session=case.session,
                                  policy=case.policy, now=self.clock(), not_before=not_before,
                                  availability=calendar.availability)
            calendar_now = calendar.calendar()
            if mode == "revalidate" and not violations(request, calendar_now, Slot(current.start, current.end)):
                return None
            found = find_slot(request, calendar_now)
            if isinstance(found, NoSlot):
                calendar.calls.pop(call_id, None)
                return [self._failed(case, party, found.reason)]
            record = CallRecord(call_id, case.case_id, party.party_id, found.start, found.end,
                                sequence=current.sequence + 1 if current else 0,
                                missed_count=current.missed_count if current else 0, cause=cause.id)
            calendar.calls[call_id] = record
            if current is None:
                return [self._scheduled(CallScheduled, case, party, record)]
            return [self._scheduled(CallRescheduled, case, party, record, previous_start=current.start,
                                    reason=reason)]

        return change

    async def _change_calendar_for_all(
        self, case: CaseOpened, cause: Cause,
        changes: list[tuple[Party, Callable[[CalendarState], list[Message] | None]]],
    ) -> dict[str, tuple[CallRecord | None, list[Message]]]:
        """_change_calendar for several parties of a case in one compare-and-set: (record, messages) per party."""
        for _ in range(CAS_ATTEMPTS):
            calendar = await self.store.calendar(case.mediator.mediator_id)
            outcomes: dict[str, tuple[CallRecord | None, list[Message]]] = {}
            events: list[CloudEvent] = []
            for party, change in changes:
                call_id = call_id_of(case.case_id, party.party_id)
                current = calendar.calls.get(call_id)
                messages = [] if current is not None and current.cause == cause.id else change(calendar) or []
                events += [cause.emit(message, call_id, type(message).__name__) for message in messages]
                outcomes[party.party_id] = (calendar.calls.get(call_id), messages)
            if events:
                try:
                    await self.store.save_calendar(calendar, events)
                except Conflict:
                    continue
            for _, messages in outcomes.values():
                for message in messages:
                    metrics.count(message, case)
            return outcomes
        raise Conflict(case.mediator.mediator_id)

    async def _change_calendar(self, case: CaseOpened, party: Party, cause: Cause,
                               change: Callable[[CalendarState], list[Message] | None]) -> None:
        """Compare-and-set on the mediator's calendar with the events it causes, then mirror the call."""
        record, messages = (await self._change_calendar_for_all(case, cause, [(party, change)]))[party.party_id]
        await self._project(case, party, record, messages)

    @staticmethod
    def _projection(case: CaseOpened, party: Party, record: CallRecord | None,
                    messages: list[Message]) -> dict | None:
        """The case's view of the party's call after a change (None: the call is gone, see _project)."""
        call_id = call_id_of(case.case_id, party.party_id)
        if record is not None:
            return {"party_id": party.party_id, "call_id": call_id, "status": "scheduled",
                    "start": record.start, "end": record.end, "sequence": record.sequence,
                    "missed_count": record.missed_count}
        if failure := next((m for m in messages if isinstance(m, SchedulingFailed)), None):
            return {"party_id": party.party_id, "call_id": call_id, "status": "failed", "reason": failure.reason}
        return None

    async def _project(self, case: CaseOpened, party: Party, record: CallRecord | None,
                       messages: list[Message]) -> None:
        projection = self._projection(case, party, record, messages)
        if projection is None:
            state = await self.store.case(case.case_id)
            previous = state.calls.get(party.party_id) if state else None
            if previous is None or previous["status"] != "scheduled":
                return
            projection = {**previous, "status": "cancelled"}
        await self.store.project_call(case.case_id, projection)

    def _scheduled(self, kind, case: CaseOpened, party: Party, record: CallRecord, **extra) -> Message:
        return kind(call_id=record.call_id, case_id=case.case_id, party_id=party.party_id,
                    mediator_id=case.mediator.mediator_id, sequence=record.sequence, start=record.start,
                    end=record.end, attendees=attendees(case, party), participant_firms=case.participant_firms,
                    **extra)

    def _failed(self, case: CaseOpened, party: Party, reason: str) -> SchedulingFailed:
        return SchedulingFailed(case_id=case.case_id, firm_id=case.firm_id, mediator_id=case.mediator.mediator_id,
                                party_id=party.party_id, call_id=call_id_of(case.case_id, party.party_id),
                                reason=reason, participant_firms=case.participant_firms)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def cancel(self, case: CaseOpened, party: Party, cause: Cause, reason: str) -> None:
        call_id = call_id_of(case.case_id, party.party_id)

        def change(calendar: CalendarState) -> list[Message] | None:
            current = calendar.calls.pop(call_id, None)
            if current is None:
                return None
            return [CallCancelled(call_id=call_id, case_id=case.case_id, party_id=party.party_id,
                                  mediator_id=case.mediator.mediator_id, sequence=current.sequence + 1,
                                  reason=reason, attendees=attendees(case, party),
                                  participant_firms=case.participant_firms, start=current.start, end=current.end)]

        await self._change_calendar(case, party, cause, change)

    async def missed(self, case: CaseOpened, party: Party, cause: Cause) -> None:
        """A missed call is rescheduled once; missed again, it fails."""
        call_id = call_id_of(case.case_id, party.party_id)
        now = self.clock()

        def change(calendar: CalendarState) -> list[Message] | None:
            current = calendar.calls.get(call_id)
            if current is None:
                raise CallStateError(f"call {call_id} is not scheduled")
            missed = CallMissed(call_id=call_id, case_id=case.case_id, party_id=party.party_id,
                                mediator_id=case.mediator.mediator_id, sequence=current.sequence,
                                missed_count=current.missed_count + 1, participant_firms=case.participant_firms)
            current.missed_count += 1
            if current.missed_count >= 2:
                del calendar.calls[call_id]
                return [missed, self._failed(case, party, f"the call was missed {current.missed_count} times")]
            request = SlotRequest(call_id=call_id, mediator=case.mediator, party=party, session=case.session,
                                  policy=case.policy, now=now, not_before=current.end,
                                  availability=calendar.availability)
            found = find_slot(request, calendar.calendar())
            if isinstance(found, NoSlot):
                del calendar.calls[call_id]
                return [missed, self._failed(case, party, f"missed, and no new slot: {found.reason}")]
            record = CallRecord(call_id, case.case_id, party.party_id, found.start, found.end,
                                sequence=current.sequence + 1, missed_count=current.missed_count, cause=cause.id)
            calendar.calls[call_id] = record
            return [missed, self._scheduled(CallRescheduled, case, party, record, previous_start=current.start,
                                            reason="the previous call was missed")]

        await self._change_calendar(case, party, cause, change)

    async def complete(self, case_id: str, party_id: str, cause: Cause) -> None:
        for _ in range(CAS_ATTEMPTS):
            state = await self.store.case(case_id)
            call = state.calls.get(party_id) if state else None
            if call is None:
                raise CallNotFound(call_id_of(case_id, party_id))
            if call["status"] == "completed":
                return
            if call["status"] != "scheduled":
                raise CallStateError(f"call {call['call_id']} is {call['status']}")
            events = self._completion(state, party_id, cause)
            try:
                await self.store.save_case(state, events)
            except Conflict:
                continue
            for event in events:
                metrics.count(event.payload(), state.case)
            return
        raise Conflict(case_id)

    def _completion(self, state: CaseState, party_id: str, cause: Cause) -> list[CloudEvent]:
        case, call, now = state.case, state.calls[party_id], self.clock()
        state.calls[party_id] = {**call, "status": "completed", "completed_at": now}
        messages: list[Message] = [CallCompleted(
            call_id=call["call_id"], case_id=case.case_id, party_id=party_id, mediator_id=case.mediator.mediator_id,
            sequence=call["sequence"], completed_at=now, participant_firms=case.participant_firms)]
        if all(state.calls.get(p.party_id, {}).get("status") == "completed" for p in case.parties):
            state.completed = True
            messages.append(PreMediationCompleted(
                case_id=case.case_id, mediator_id=case.mediator.mediator_id,
                call_ids=[call_id_of(case.case_id, p.party_id) for p in case.parties], completed_at=now,
                participant_firms=case.participant_firms))
        return [cause.emit(message, call["call_id"], type(message).__name__) for message in messages]

    # -- case changes ------------------------------------------------------------------------------

    async def case_updated(self, update: CaseUpdated, cause: Cause) -> None:
        state = await self._apply_revision(update)
        if state is None:
            return
        for party in state.case.parties:
            if state.calls.get(party.party_id, {}).get("status") == "scheduled":
                await self.place(state.case, party, cause, mode="revalidate", reason="the case changed")
            elif state.calls.get(party.party_id, {}).get("status") in (None, "failed"):
                await self.place(state.case, party, cause)

    async def _apply_revision(self, update: CaseUpdated) -> CaseState | None:
        for _ in range(CAS_ATTEMPTS):
            state = await self.store.case(update.case_id)
            if state is None:
                raise CallStateError(f"case {update.case_id} is unknown here (CaseOpened not seen yet)")
            if update.revision <= state.revision:
                return state
            state.case = state.case.model_copy(update={"session": update.session, "parties": update.parties,
                                                       "participant_firms": update.participant_firms})
            state.revision = update.revision
            try:
                await self.store.save_case(state)
                return await self.store.case(update.case_id)
            except Conflict:
                continue
        raise Conflict(update.case_id)

    async def withdraw(self, withdrawn: CaseWithdrawn, cause: Cause) -> None:
        state = await self.store.case(withdrawn.case_id)
        if state is None:
            return
        for party in state.case.parties:
            await self.cancel(state.case, party, cause, reason=withdrawn.reason or "the case was withdrawn")
        for _ in range(CAS_ATTEMPTS):
            state = await self.store.case(withdrawn.case_id)
            state.status = "withdrawn"
            try:
                return await self.store.save_case(state)
            except Conflict:
                continue


class SchedulingHandlers:
    """Event in -> use case: intake's events and the firm commands scheduling answers."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    async def case_opened(self, incoming: Incoming[CaseOpened]) -> None:
        await self.scheduler.open_case(incoming.message, Cause(incoming.event))

    async def case_updated(self, incoming: Incoming[CaseUpdated]) -> None:
        await self.scheduler.case_updated(incoming.message, Cause(incoming.event))

    async def case_withdrawn(self, incoming: Incoming[CaseWithdrawn]) -> None:
        await self.scheduler.withdraw(incoming.message, Cause(incoming.event))

    async def request_reschedule(self, incoming: Incoming[RequestReschedule]) -> None:
        command, firm = incoming.message, Topics.firm_of_inbound(incoming.topic)
        state = await self.scheduler.store.case(command.case_id)
        party = next((p for p in state.case.parties if p.party_id == command.party_id), None) if state else None
        if party is None or firm not in represented_by(state.case, party):
            raise PoisonMessage(f"firm {firm} may not reschedule party {command.party_id} of case {command.case_id}")
        await self.scheduler.place(state.case, party, Cause(incoming.event, incoming.topic), mode="reschedule",
                                   not_before=command.not_before, reason=command.reason or "requested by the firm")


def represented_by(case: CaseOpened, party: Party) -> set[str]:
    return {case.firm_id} | ({party.attorney.firm_id} if party.attorney else set())


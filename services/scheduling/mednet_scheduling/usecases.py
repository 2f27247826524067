"""Scheduling's use cases: read the state, let the domain decide, write it with its events (one compare-and-set).

A calendar change is a compare-and-set on the mediator's calendar carrying the events it causes; the case's view
of its calls is mirrored after it. The events' ids derive from their cause, so a redelivered cause repeats them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent, derived_id, new_event
from mednet_shared.contracts.events import CaseOpened, CaseUpdated, CaseWithdrawn, Message
from mednet_shared.contracts.values import Party, utc_now
from mednet_shared.platform.cas import DEFAULT_POLICY, CasPolicy, compare_and_set

from . import metrics
from .domain import MediatorAvailability, calls
from .domain.calls import CallNotFound, Change, Placement
from .domain.state import CalendarState, CaseFacts, CaseState
from .store import SchedulingStore

SOURCE = "/mednet/scheduling"
SERVICE = "scheduling"


class Cause:
    """Why something happens: an incoming event, or an HTTP request (with a fresh id). A firm's command is known by
    its sender key (its topic names the firm), so the ids derived from it are the firm's own."""

    def __init__(self, event: CloudEvent | None = None, firm_topic: str | None = None) -> None:
        self.event = event
        self.id = (event.sender_key(firm_topic) if firm_topic else event.id) if event else f"http-{uuid.uuid4()}"

    def emit(self, message: Message, *parts: str) -> CloudEvent:
        firm = self.event.firmid if self.event else None
        return new_event(message, SOURCE, firm_id=firm, caused_by=self.event, event_id=derived_id(self.id, *parts))


@dataclass
class Scheduler:
    store: SchedulingStore
    clock: Callable[[], datetime] = utc_now
    policy: CasPolicy = DEFAULT_POLICY

    # -- reading -----------------------------------------------------------------------------------

    async def case_of_call(self, call_id: str) -> tuple[CaseState, Party] | None:
        case_id, party_id = calls.ids_of_call(call_id)
        state = await self.store.case(case_id) if case_id else None
        party = state.facts.party(party_id) if state else None
        return (state, party) if party else None

    # -- intake's events ---------------------------------------------------------------------------

    async def open_case(self, case: CaseOpened, cause: Cause) -> None:
        facts = CaseFacts.of(case)
        change = await self._on_calendar(facts, cause, lambda calendar: calls.place(
            calendar, facts, facts.parties, self.clock(), cause.id))
        if not await self.store.add_case(calls.opened(facts, change)):
            await self._mirror(facts, change)

    async def case_updated(self, update: CaseUpdated, cause: Cause) -> None:
        async def attempt() -> CaseState:
            state = await self.store.case(update.case_id)
            revised = calls.revised(state, update)
            if revised is None:
                return state
            await self.store.save_case(revised)
            return revised

        state = await self._cas(attempt, "case", update.case_id)
        for party, mode in calls.placements_after_change(state):
            await self.place(state.facts, party, cause, mode=mode, reason="the case changed")

    async def withdraw(self, withdrawn: CaseWithdrawn, cause: Cause) -> None:
        state = await self.store.case(withdrawn.case_id)
        if state is None:
            return
        for party in state.facts.parties:
            await self.cancel(state.facts, party, cause, reason=withdrawn.reason or "the case was withdrawn")
        await self._change_case(withdrawn.case_id, lambda current: (calls.withdrawn(current) if current else None, []))

    # -- the calls' lifecycle ------------------------------------------------------------------------

    async def place(self, facts: CaseFacts, party: Party, cause: Cause, *, mode: Placement = Placement.SCHEDULE,
                    not_before: datetime | None = None, reason: str = "") -> None:
        await self._on_calendar_then_mirror(facts, cause, lambda calendar: calls.place(
            calendar, facts, [party], self.clock(), cause.id, mode, not_before, reason))

    async def cancel(self, facts: CaseFacts, party: Party, cause: Cause, reason: str) -> None:
        await self._on_calendar_then_mirror(facts, cause, lambda calendar: calls.cancel(
            calendar, facts, party, cause.id, reason))

    async def missed(self, facts: CaseFacts, party: Party, cause: Cause) -> None:
        await self._on_calendar_then_mirror(facts, cause, lambda calendar: calls.miss(
            calendar, facts, party, self.clock(), cause.id))

    async def complete(self, case_id: str, party_id: str, cause: Cause) -> None:
        def decide(state: CaseState | None) -> tuple[CaseState | None, list[Message]]:
            if state is None:
                raise CallNotFound(calls.call_id_of(case_id, party_id))
            return calls.complete(state, party_id, self.clock())

        await self._change_case(case_id, decide, cause, calls.call_id_of(case_id, party_id))

    async def set_availability(self, mediator_id: str, availability: MediatorAvailability) -> CalendarState:
        async def attempt() -> CalendarState:
            calendar = calls.with_availability(await self.store.calendar(mediator_id), availability)
            await self.store.save_calendar(calendar)
            return calendar

        return await self._cas(attempt, "calendar", mediator_id)

    # -- the compare-and-sets ----------------------------------------------------------------------

    async def _on_calendar(self, facts: CaseFacts, cause: Cause,
                           decide: Callable[[CalendarState], Change]) -> Change:
        mediator_id = facts.mediator.mediator_id

        async def attempt() -> Change:
            change = decide(await self.store.calendar(mediator_id))
            if change.messages:
                await self.store.save_calendar(change.calendar, [
                    cause.emit(message, message.call_id, type(message).__name__) for message in change.messages])
            return change

        change = await self._cas(attempt, "calendar", mediator_id)
        for message in change.messages:
            metrics.count(message, facts.session.start)
        return change

    async def _on_calendar_then_mirror(self, facts: CaseFacts, cause: Cause,
                                       decide: Callable[[CalendarState], Change]) -> None:
        await self._mirror(facts, await self._on_calendar(facts, cause, decide))

    async def _mirror(self, facts: CaseFacts, change: Change) -> None:
        """The case's view of the calls the change touched (the calendar stays the source of truth)."""
        def decide(state: CaseState | None) -> tuple[CaseState | None, list[Message]]:
            if state is None:
                return None, []
            changed = state
            for party_id in change.booked:
                call = calls.mirror(changed.calls.get(party_id), changed.facts, party_id, change)
                changed = calls.with_call(changed, call) if call else changed
            return (changed if changed is not state else None), []

        await self._change_case(facts.case_id, decide)

    async def _change_case(self, case_id: str,
                           decide: Callable[[CaseState | None], tuple[CaseState | None, list[Message]]],
                           cause: Cause | None = None, call_id: str = "") -> None:
        """decide(current) -> (new state or None for no write, messages to emit with it)."""
        async def attempt() -> tuple[CaseState | None, list[Message]]:
            changed, messages = decide(await self.store.case(case_id))
            if changed is not None:
                await self.store.save_case(changed, [cause.emit(m, call_id, type(m).__name__) for m in messages]
                                           if cause else [])
            return changed, messages

        changed, messages = await self._cas(attempt, "case", case_id)
        for message in messages:
            metrics.count(message, changed.facts.session.start)

    async def _cas(self, attempt, what: str, key: str):
        return await compare_and_set(attempt, service=SERVICE, what=what, key=key, policy=self.policy)

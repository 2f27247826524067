"""Scheduling's use cases: read the state, let the domain decide, write it with its events (one compare-and-set).

A calendar change is a compare-and-set on the mediator's calendar carrying the events it causes; the case's view
of its calls is mirrored after it. The events' ids derive from their cause, so a redelivered cause repeats them.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent, derived_id, new_event
from mednet_shared.contracts.events import (
    CallSlotsOffered,
    CaseOpened,
    CaseUpdated,
    CaseWithdrawn,
    CommandRejected,
    InvitationReplied,
    Message,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import DateWindow, Party, Reason, utc_now
from mednet_shared.platform.cas import DEFAULT_POLICY, CasPolicy, compare_and_set

from . import metrics
from .domain import MediatorAvailability, calls, offers
from .domain.calls import CallNotFound, CallStateError, Change, Placement
from .domain.offers import OfferChange, OfferRefused, UnknownOffer
from .domain.places import Conferencing, Secrets, new_place
from .domain.state import CalendarState, CallStatus, CaseFacts, CaseState
from .links import Links
from .store import SchedulingStore

log = logging.getLogger("mednet.scheduling")
Step = tuple[CalendarState, list[Message], bool]
"""A calendar decision's result: the calendar (bookings and offers) after it, its messages, whether it changed."""

SOURCE = "/mednet/scheduling"
SERVICE = "scheduling"
CHECK = "(a check: nothing is decided)"  # the cause of a decision only judged, never a command's


class Cause:
    """Why something happens: an incoming event, or an HTTP request (with a fresh id). A firm's command is known by
    its sender key (its topic names the firm), so the ids derived from it are the firm's own."""

    def __init__(self, event: CloudEvent | None = None, firm_topic: str | None = None, named: str | None = None) -> None:
        self.event = event
        self.id = named or ((event.sender_key(firm_topic) if firm_topic else event.id) if event
                            else f"http-{uuid.uuid4()}")
        # a firm's command: the firm its topic names (never the firmid the command's envelope claims)
        self.firm = Topics.firm_of_inbound(firm_topic) if firm_topic else event.firmid if event else None

    def emit(self, message: Message, *parts: str) -> CloudEvent:
        return new_event(message, SOURCE, firm_id=self.firm, caused_by=self.event,
                         event_id=derived_id(self.id, *parts))


def _offered(change: OfferChange) -> Step:
    """An offer decision as a step: its offers go into the calendar (one document, one compare-and-set)."""
    return change.calendar.model_copy(update={"offers": change.offers}), list(change.messages), change.changed


def _placed(change: Change) -> Step:
    return change.calendar, list(change.messages), bool(change.messages)


def _then(first: Step, decide: Callable[[CalendarState], Step]) -> Step:
    calendar, messages, changed = first
    after, more, more_changed = decide(calendar)
    return after, messages + more, changed or more_changed


def drawn_secrets() -> Secrets:
    """A call place's random values: an unguessable room (128 bits) and an 8-digit PIN."""
    return Secrets(room=secrets.token_urlsafe(16), pin=f"{secrets.randbelow(10 ** 8):08d}")


@dataclass
class Scheduler:
    store: SchedulingStore
    clock: Callable[[], datetime] = utc_now
    policy: CasPolicy = DEFAULT_POLICY
    draw: Callable[[], Secrets] = drawn_secrets
    links: Links | None = None
    """Signs the one-click links of offers (the service always has it; None: offers carry no links)."""
    complete_before_start: bool = False

    # -- reading -----------------------------------------------------------------------------------

    async def case_of_call(self, call_id: str) -> tuple[CaseState, Party] | None:
        case_id, party_id = calls.ids_of_call(call_id)
        state = await self.store.case(case_id) if case_id else None
        party = state.facts.party(party_id) if state else None
        return (state, party) if party else None

    # -- intake's events ---------------------------------------------------------------------------

    async def open_case(self, case: CaseOpened, cause: Cause) -> None:
        """Each confirmed side gets an offer (slots held on the mediator's calendar), not a booking. The case is
        written first: the offers are published as soon as the calendar holds them, and a side's answer, taken by
        any instance, must find its case. Its view of the calls then follows the calendar as it is by then."""
        facts = CaseFacts.of(case)
        now = self.clock()
        added = CaseState(case_id=facts.case_id, facts=facts, calls={})
        known = added if await self.store.add_case(added) else None

        def decide(calendar: CalendarState) -> Step:
            step: Step = (calendar, [], False)
            for party in facts.confirmed_parties():
                step = _then(step, lambda current, party=party: _offered(offers.offer(
                    current, current.offers, facts, party, now, cause.id)))
            return step

        _, messages = await self._decide(facts, cause, decide, mirror=False)
        await self._mirror_views(facts, await self.store.calendar(facts.mediator.mediator_id), messages, known=known)

    async def case_updated(self, update: CaseUpdated, cause: Cause) -> None:
        async def attempt() -> CaseState:
            state = await self.store.case(update.case_id)
            revised = calls.revised(state, update)
            if revised is None:
                return state
            await self.store.save_case(revised)
            return revised

        state = await self._cas(attempt, "case", update.case_id)
        for party in calls.cancellations_after_change(state):
            side = state.facts.side(party.party_id)
            await self.cancel(state.facts, party, cause, reason="the side declined" if side and side.status ==
                              "declined" else "the side is not confirmed")
        for party, mode in calls.placements_after_change(state):
            status = state.calls[party.party_id].status if party.party_id in state.calls else None
            if status is CallStatus.SCHEDULED:
                await self.place(state.facts, party, cause, mode=mode, reason="the case changed")
            elif status is CallStatus.OFFERED:
                await self.revalidate_offer(state.facts, party, cause)
            else:
                await self.offer(state.facts, party, cause, after=calls.last_sequence(state, party.party_id))

    async def withdraw(self, withdrawn: CaseWithdrawn, cause: Cause) -> None:
        state = await self.store.case(withdrawn.case_id)
        if state is None:
            return
        for party in calls.open_calls(state):
            await self.cancel(state.facts, party, cause, reason=withdrawn.reason or "the case was withdrawn")
        await self._decide(state.facts, cause, lambda calendar: _offered(offers.forget(
            calendar, calendar.offers, withdrawn.case_id)), mirror=False)
        await self._change_case(withdrawn.case_id, lambda current: (calls.withdrawn(current) if current else None, []))

    # -- the calls' lifecycle ------------------------------------------------------------------------

    async def place(self, facts: CaseFacts, party: Party, cause: Cause, *, mode: Placement = Placement.SCHEDULE,
                    not_before: datetime | None = None, reason: str = "", after: int | None = None) -> None:
        await self._on_calendar_then_mirror(facts, cause, lambda calendar: calls.place(
            calendar, facts, [party], self.clock(), cause.id, mode, not_before, reason, self.draw,
            {party.party_id: after} if after is not None else None))

    async def place_again(self, case_id: str, party_id: str, cause: Cause) -> None:
        """The mediator offers a cancelled or failed call again (the case's facts as they are now)."""
        state = await self.store.case(case_id)
        if state is None or state.facts.party(party_id) is None:
            raise CallNotFound(calls.call_id_of(case_id, party_id))
        after = calls.ensure_placeable_again(state, party_id)
        await self.offer(state.facts, state.facts.party(party_id), cause, after=after)

    async def waive(self, case_id: str, party_id: str, reason: str, cause: Cause) -> None:
        """The mediator waives a call: a booked one is released from the calendar (CallCancelled) first."""
        state = await self.store.case(case_id)
        if state is None or state.facts.party(party_id) is None:
            raise CallNotFound(calls.call_id_of(case_id, party_id))
        if not reason.strip():
            raise CallStateError("a waiver needs a reason")
        call = state.calls.get(party_id)
        if call is not None and call.status in calls.OPEN:
            await self.cancel(state.facts, state.facts.party(party_id), cause, reason=f"waived: {reason}")

        def decide(current: CaseState | None) -> tuple[CaseState | None, list[Message]]:
            if current is None:
                raise CallNotFound(calls.call_id_of(case_id, party_id))
            return calls.waive(current, party_id, reason, self.clock())

        await self._change_case(case_id, decide, cause, calls.call_id_of(case_id, party_id))

    async def cancel(self, facts: CaseFacts, party: Party, cause: Cause, reason: str) -> None:
        """The call's open offer is withdrawn (the side told so) and its booking cancelled, in one decision."""
        state = await self.store.case(facts.case_id)
        previous = state.calls.get(party.party_id) if state else None
        call_id = calls.call_id_of(facts.case_id, party.party_id)
        now = self.clock()

        def decide(calendar: CalendarState) -> Step:
            calendar, messages, changed = _offered(offers.withdraw(calendar, calendar.offers, call_id, now, cause.id))
            if changed:
                told = calls.offer_withdrawn(calendar, facts, party, previous, reason)
                messages += [told] if told else []
            return _then((calendar, messages, changed), lambda current: _placed(calls.cancel(
                current, facts, party, cause.id, reason)))

        await self._decide(facts, cause, decide)

    # -- offers: consent to a booking ------------------------------------------------------------------

    async def offer(self, facts: CaseFacts, party: Party, cause: Cause, after: int | None = None) -> None:
        now = self.clock()
        await self._decide(facts, cause, lambda calendar: _offered(offers.offer(
            calendar, calendar.offers, facts, party, now, cause.id, after=after)))

    async def revalidate_offer(self, facts: CaseFacts, party: Party, cause: Cause) -> None:
        now = self.clock()
        await self._decide(facts, cause, lambda calendar: _offered(offers.revalidate(
            calendar, calendar.offers, facts, party, now, cause.id)))

    async def _side(self, case_id: str, party_id: str, offer_id: str,
                    known: CaseState | None = None) -> tuple[CaseState, Party]:
        state = known if known is not None and known.case_id == case_id else await self.store.case(case_id)
        party = state.facts.party(party_id) if state else None
        if party is None:
            raise UnknownOffer([Reason(field="offer_id", message=f"no offer {offer_id} for party {party_id} of "
                                                                 f"case {case_id}")])
        return state, party

    def _place_for(self, calendar: CalendarState, call_id: str):
        """A new place for a first booking (None when the call has one already, or the mediator no profile)."""
        record = calendar.offers.of(call_id)
        if calendar.conferencing is None or (record is not None and record.place is not None):
            return None
        taken = [*(booked.place for booked in calendar.calls.values()),
                 *(other.place for other in calendar.offers.calls.values())]
        return new_place(calendar.conferencing, self.draw, taken)

    async def choose(self, case_id: str, party_id: str, offer_id: str, slot_id: str, cause: Cause, *,
                     sender: str | None, known: CaseState | None = None) -> CaseState:
        """The side (sender: its firm, offers.MEDIATOR or offers.SIGNED_LINK) chooses a slot: it is booked.
        OfferRefused (every reason) when it cannot be. `known`: the case as the caller just read it."""
        state, party = await self._side(case_id, party_id, offer_id, known)
        call_id, now = calls.call_id_of(case_id, party_id), self.clock()
        return await self._answer(state, cause, lambda calendar: _offered(offers.choose(
            calendar, calendar.offers, state.facts, party, offer_id, slot_id, now, cause.id, sender=sender,
            place=self._place_for(calendar, call_id))))

    async def decline(self, case_id: str, party_id: str, offer_id: str, proposals: Sequence[DateWindow],
                      cause: Cause, *, sender: str | None, known: CaseState | None = None) -> CaseState:
        """None of the slots: a new offer (inside the proposals when there are any)."""
        state, party = await self._side(case_id, party_id, offer_id, known)
        now = self.clock()
        return await self._answer(state, cause, lambda calendar: _offered(offers.decline(
            calendar, calendar.offers, state.facts, party, offer_id, list(proposals), now, cause.id, sender=sender)))

    async def _answer(self, state: CaseState, cause: Cause, decide: Callable[[CalendarState], Step]) -> CaseState:
        """A side's answer decided on the calendar, then the case's view mirrored from the case as read before."""
        calendar, messages = await self._decide(state.facts, cause, decide, mirror=False)
        return await self._mirror_views(state.facts, calendar, messages, known=state)

    async def reply(self, replied: InvitationReplied, cause: Cause) -> None:
        """An attendee's iTIP REPLY: DECLINED or COUNTER release the booking and make a new offer."""
        state = await self.store.case(replied.case_id)
        party = state.facts.party(replied.party_id) if state else None
        if party is None:
            raise offers.UnknownCall([Reason(field="call_id", message=f"no call {replied.call_id}")])
        now = self.clock()
        await self._decide(state.facts, cause, lambda calendar: _offered(offers.reply(
            calendar, calendar.offers, state.facts, party, replied, now, cause.id)))

    async def sweep(self) -> int:
        """Every offer past its deadline: its first slot that still fits is booked (or the call failed). Returns how
        many offers were decided. Each decision's cause is the offer's deadline: two instances sweeping at once
        decide it once."""
        now, decided = self.clock(), 0
        for mediator_id in await self.store.due_calendars(now):
            calendar = await self.store.calendar(mediator_id)
            for due in calendar.offers.due(now):
                cause = Cause(named=f"{due.offer_id}:deadline")
                state = await self.store.case(due.case_id)
                party = state.facts.party(due.party_id) if state else None
                if party is None:   # a case scheduling no longer knows: the offer ends, nothing is booked
                    await self._decide_calendar(mediator_id, cause, lambda current, due=due: _offered(offers.withdraw(
                        current, current.offers, due.call_id, now, cause.id)))
                    continue
                await self._decide(state.facts, cause, lambda current, due=due, state=state, party=party: _offered(
                    offers.expire(current, current.offers, state.facts, party, now,
                                  place=self._place_for(current, due.call_id))))
                decided += 1
        return decided

    async def missed(self, facts: CaseFacts, party: Party, cause: Cause) -> None:
        state = await self.store.case(facts.case_id)
        view = state.calls.get(party.party_id) if state else None
        if view is None:
            raise CallStateError(f"call {calls.call_id_of(facts.case_id, party.party_id)} is not scheduled")
        await self._on_calendar_then_mirror(facts, cause, lambda calendar: calls.miss(
            calendar, facts, party, self.clock(), cause.id, view))

    async def complete(self, case_id: str, party_id: str, cause: Cause) -> None:
        def decide(state: CaseState | None) -> tuple[CaseState | None, list[Message]]:
            if state is None:
                raise CallNotFound(calls.call_id_of(case_id, party_id))
            return calls.complete(state, party_id, self.clock(), early=self.complete_before_start)

        await self._change_case(case_id, decide, cause, calls.call_id_of(case_id, party_id))

    async def set_availability(self, mediator_id: str, availability: MediatorAvailability) -> CalendarState:
        async def attempt() -> CalendarState:
            calendar = calls.with_availability(await self.store.calendar(mediator_id), availability)
            await self.store.save_calendar(calendar)
            return calendar

        return await self._cas(attempt, "calendar", mediator_id)

    async def set_conferencing(self, mediator_id: str, profile: Conferencing | None) -> CalendarState:
        """The mediator's conferencing profile; calls booked from now get their place from it (booked ones keep
        theirs)."""
        async def attempt() -> CalendarState:
            calendar = (await self.store.calendar(mediator_id)).model_copy(update={"conferencing": profile})
            await self.store.save_calendar(calendar)
            return calendar

        return await self._cas(attempt, "calendar", mediator_id)

    # -- refusals ----------------------------------------------------------------------------------

    async def answer_refusals(self, state: CaseState, party: Party, offer_id: str, sender: str, *,
                              slot_id: str | None = None, proposals: Sequence[DateWindow] = ()) -> list[Reason]:
        """Every reason the side's firm cannot answer the offer so (a choice of slot_id, else a decline), decided
        exactly as choose and decline would and changing nothing: for a command refused for other reasons too."""
        calendar, now = await self.store.calendar(state.facts.mediator.mediator_id), self.clock()
        try:
            if slot_id is not None:
                offers.choose(calendar, calendar.offers, state.facts, party, offer_id, slot_id, now, CHECK,
                              sender=sender)
            else:
                offers.decline(calendar, calendar.offers, state.facts, party, offer_id, list(proposals), now, CHECK,
                               sender=sender)
        except OfferRefused as refused:
            return refused.reasons
        return []

    async def reject(self, cause: Cause, firm_id: str, case_id: str, reasons: list[Reason],
                     dead_letter_topic: str | None = None) -> None:
        """A firm's command refused or invalid: CommandRejected back to it, written once (its id derives from the
        command's sender key, so a redelivery repeats it)."""
        event = cause.event
        rejected = CommandRejected(firm_id=firm_id, command_id=event.id[:200], command_type=event.type[:200],
                                   case_id=case_id[:128], reasons=reasons, dead_letter_topic=dead_letter_topic,
                                   rejected_at=self.clock())
        emitted = new_event(rejected, SOURCE, firm_id=firm_id, caused_by=event,
                            event_id=derived_id(cause.id, "rejected"))
        await self.store.reject(emitted.id, emitted)

    # -- the compare-and-sets ----------------------------------------------------------------------

    def _emitted(self, cause: Cause, messages: list[Message], session_end: datetime | None = None) -> list[CloudEvent]:
        events = []
        for message in messages:
            parts = [message.call_id, type(message).__name__]
            if isinstance(message, CallSlotsOffered):
                parts.append(message.offer_id)
                if self.links is not None:
                    message = self.links.linked(message, session_end)
            events.append(cause.emit(message, *parts))
        return events

    async def _decide_calendar(self, mediator_id: str, cause: Cause, decide: Callable[[CalendarState], Step],
                               session_end: datetime | None = None) -> tuple[CalendarState, list[Message]]:
        """One compare-and-set on the mediator's calendar (bookings and holds) with the events it causes."""
        async def attempt() -> tuple[CalendarState, list[Message]]:
            calendar, messages, changed = decide(await self.store.calendar(mediator_id))
            if changed:
                await self.store.save_calendar(calendar, self._emitted(cause, messages, session_end))
            return calendar, messages

        return await self._cas(attempt, "calendar", mediator_id)

    async def _decide(self, facts: CaseFacts, cause: Cause, decide: Callable[[CalendarState], Step],
                      mirror: bool = True) -> tuple[CalendarState, list[Message]]:
        calendar, messages = await self._decide_calendar(facts.mediator.mediator_id, cause, decide, facts.session.end)
        for message in messages:
            metrics.count(message, facts.session.start)
        if mirror:
            await self._mirror_views(facts, calendar, messages)
        return calendar, messages

    async def _mirror_views(self, facts: CaseFacts, calendar: CalendarState, messages: list[Message],
                            known: CaseState | None = None) -> CaseState | None:
        """The case's view of its calls from the calendar after a decision (the calendar stays the source of
        truth); the case after it."""
        def decide(state: CaseState | None) -> tuple[CaseState | None, list[Message]]:
            if state is None:
                return None, []
            changed = state
            for party in state.facts.parties:
                call = calls.view_after(changed.calls.get(party.party_id), changed.facts, party.party_id, calendar,
                                        messages)
                changed = calls.with_call(changed, call) if call else changed
            return (changed if changed is not state else None), []

        return await self._change_case(facts.case_id, decide, known=known)

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
                           cause: Cause | None = None, call_id: str = "",
                           known: CaseState | None = None) -> CaseState | None:
        """decide(current) -> (new state or None for no write, messages to emit with it); the case after it.
        `known`: the case as just read, tried first only when it leads to a write (its version guards that write;
        a decision to write nothing is taken on the case as stored)."""
        async def attempt() -> tuple[CaseState | None, list[Message], CaseState | None]:
            nonlocal known
            current, known = known, None
            changed, messages = decide(current) if current is not None else (None, [])
            if changed is None:
                current = await self.store.case(case_id)
                changed, messages = decide(current)
            if changed is not None:
                await self.store.save_case(changed, [cause.emit(m, call_id, type(m).__name__) for m in messages]
                                           if cause else [])
            return changed, messages, current

        changed, messages, current = await self._cas(attempt, "case", case_id)
        for message in messages:
            metrics.count(message, changed.facts.session.start)
        return current if changed is None else changed.model_copy(update={"version": changed.version + 1})

    async def _cas(self, attempt, what: str, key: str):
        return await compare_and_set(attempt, service=SERVICE, what=what, key=key, policy=self.policy)

"""Readiness per side (pure): a checklist of the preliminaries, each item recording who set it and when.

The side itself (its own confirmed firm, or its signed link: acting.py) may set the items it can vouch for; the
case's mediator any item, during or after the call. Nothing changes once the session has started. The required items
are set per case (default: agreement signed, attendees named, authority confirmed). A side is ready when every
required item is done; CaseReadyForSession fires once, when every side still to be heard (not waived, not declined)
is ready. SideReadinessChanged goes to the mediator and that side only. ReadinessRequired tells notify each side's
outstanding items and the session's start from the case's first revision on, and again whenever either changes (for
its reminders).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mednet_shared.contracts.envelope import derived_id
from mednet_shared.contracts.events import CaseReadyForSession, ReadinessRequired, SideReadinessChanged
from mednet_shared.contracts.values import ReadinessItem, ReadinessMark, SideOutstanding

from .acting import Actor, acts_for
from .case import CaseState, Decision, Outgoing, SideReadiness

MEDIATOR_ONLY = frozenset({ReadinessItem.AUTHORITY_CONFIRMED})


class ReadinessRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def marks_of(state: CaseState, party_id: str) -> list[ReadinessMark]:
    return next((r.marks for r in state.readiness if r.party_id == party_id), [])


def outstanding(state: CaseState, party_id: str) -> list[ReadinessItem]:
    done = {m.item for m in marks_of(state, party_id) if m.done}
    return [ReadinessItem(item) for item in state.required_items if ReadinessItem(item) not in done]


def by_mediator(state: CaseState | None, mediator_id: str | None) -> bool:
    return mediator_id is not None and state is not None and state.mediator_id == mediator_id


def may_read(state: CaseState | None, party_id: str, side: Actor, mediator_id: str | None) -> bool:
    """The side's checklist is the side's own (its firm or its link: acting.py) and the case's mediator's."""
    known = state is not None and state.party(party_id) is not None
    return known and (by_mediator(state, mediator_id) or acts_for(state, party_id, side))


def ensure_may_mark(state: CaseState | None, case_id: str, party_id: str, item: ReadinessItem,
                    side: Actor, mediator_id: str | None, now: datetime) -> None:
    if not may_read(state, party_id, side, mediator_id):
        raise ReadinessRefused(f"no side {party_id} of yours in case {case_id}", 404)
    if not by_mediator(state, mediator_id) and item in MEDIATOR_ONLY:
        raise ReadinessRefused(f"only the mediator confirms {item}", 403)
    if state.session_start is not None and now >= state.session_start:
        raise ReadinessRefused(f"the session started at {state.session_start.isoformat()}: readiness is closed", 409)


def mark(state: CaseState, party_id: str, item: ReadinessItem, done: bool, set_by: str, cause: str,
         now: datetime) -> Decision:
    """Set one item of the side's checklist (the same value again changes nothing)."""
    current = next((m for m in marks_of(state, party_id) if m.item == item), None)
    if current is not None and current.done == done:
        return None
    marks = [m for m in marks_of(state, party_id) if m.item != item] + [
        ReadinessMark(item=item, done=done, set_by=set_by, set_at=now)]
    readiness = [r for r in state.readiness if r.party_id != party_id] + [SideReadiness(party_id=party_id,
                                                                                           marks=marks)]
    changed = state.model_copy(update={"readiness": readiness})
    left = outstanding(changed, party_id)
    party = state.party(party_id)
    event = SideReadinessChanged(case_id=state.case_id, party_id=party_id, side_firm_id=party.firm_id if party else None,
                                 mediator_id=state.mediator_id, item=item, done=done, set_by=set_by, marks=marks,
                                 outstanding=left, ready=not left, changed_at=now)
    return with_case_ready_if_so(changed, [Outgoing(event, derived_id(cause, "readiness"))], now)


def set_required(state: CaseState, items: list[ReadinessItem], now: datetime) -> Decision:
    required = list(dict.fromkeys(str(i) for i in items))
    if required == state.required_items:
        return None
    return announced(state, with_case_ready_if_so(state.model_copy(update={"required_items": required}), [], now),
                     now)


def sides_outstanding(state: CaseState) -> list[SideOutstanding]:
    return [SideOutstanding(party_id=p.party_id, outstanding=outstanding(state, p.party_id))
            for p in state.to_be_heard() if p.status != "declined"]


def announced(before: CaseState, decision: Decision, now: datetime) -> Decision:
    """The decision, with ReadinessRequired when it changes what the sides have outstanding or when the session
    starts (or is the case's first revision)."""
    if decision is None:
        return None
    changed, events = decision
    sides = sides_outstanding(changed)
    same = sides == sides_outstanding(before) and changed.session_start == before.session_start
    if not changed.revision or before.revision and same:
        return decision
    required = ReadinessRequired(case_id=changed.case_id, mediator_id=changed.mediator_id,
                                 session_start=changed.session_start, required_items=changed.required_items,
                                 sides=sides, set_at=now)
    return changed, [*events, Outgoing(required, derived_id(changed.case_id, "readiness-required",
                                                            str(before.version + 1)))]


def with_case_ready_if_so(state: CaseState, events: list[Outgoing], now: datetime) -> Decision:
    sides = [p for p in state.to_be_heard() if p.status != "declined"]
    if state.ready_for_session or not sides or any(outstanding(state, p.party_id) for p in sides):
        return state, events
    ready = CaseReadyForSession(case_id=state.case_id, mediator_id=state.mediator_id,
                                party_ids=[p.party_id for p in sides], ready_at=now)
    return state.model_copy(update={"ready_for_session": True}), [
        *events, Outgoing(ready, derived_id(state.case_id, "ready-for-session"))]


def not_ready_within(sessions: list[tuple[datetime, bool]], now: datetime, days: int) -> int:
    """How many cases are not ready for a session that starts within `days` from now (and has not started)."""
    horizon = now + timedelta(days=days)
    return sum(1 for start, ready in sessions if not ready and now <= start <= horizon)

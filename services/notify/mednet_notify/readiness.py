"""Readiness reminders (pure): days before the session, each side's party (email) and own firm (its outbound
topic, its webhooks) are told the side's readiness items still outstanding, and nothing of any other side.

What notify knows of a case's readiness comes from notes alone (ReadinessRequired: every side's outstanding items
and the session's start, from the case's first revision on; SideReadinessChanged: one side's), so it arrives in
order on one partition; CaseWithdrawn from intake ends it. A reminder is planned per side and offset while that
side has items outstanding; one whose side is done, whose case was withdrawn or whose session moved is dropped,
and a moved session plans new ones. When one comes due it is checked again against what is known then.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from mednet_shared.contracts.events import (
    CaseWithdrawn,
    Message,
    ReadinessReminder,
    ReadinessRequired,
    SideReadinessChanged,
)
from mednet_shared.contracts.values import Attendee, AttendeeKind, ReadinessItem, SideOutstanding, SideStatus

from .domain import CaseState, Email, State
from .messages import letter, local_time_text, plural

ITEM_TEXT = {
    ReadinessItem.AGREEMENT_SIGNED: "the agreement to mediate, signed",
    ReadinessItem.ATTENDEES_NAMED: "who will attend the session",
    ReadinessItem.AUTHORITY_CONFIRMED: "confirmation of settlement authority",
    ReadinessItem.INTERPRETER_ARRANGED: "an interpreter, arranged",
    ReadinessItem.ACCESSIBILITY_ARRANGED: "accessibility needs, arranged",
    ReadinessItem.TECHNOLOGY_CHECKED: "a technology check",
    ReadinessItem.DOCUMENTS_EXCHANGED: "the documents, exchanged",
}
EVENTS = (ReadinessRequired, SideReadinessChanged, CaseWithdrawn)


def parse_days(text: str) -> tuple[int, ...]:
    """'7,2' -> (7, 2): distinct whole days, each at least 1; anything else is refused with the reason."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise ValueError(f"readiness reminder days must be whole days of at least 1, comma-separated "
                         f"(e.g. 7,2), not {text!r}")
    days = tuple(sorted({int(part) for part in parts}, reverse=True))
    if len(days) != len(parts):
        raise ValueError(f"readiness reminder days repeat a day: {text!r}")
    return days


class Readiness(State):
    """What notify knows of one case's readiness; `version` for compare-and-set."""

    id: str = Field(alias="_id")
    version: int = 0
    session_start: datetime | None = None
    sides: list[SideOutstanding] = []
    withdrawn: bool = False

    def outstanding(self, party_id: str) -> list[ReadinessItem]:
        return next((s.outstanding for s in self.sides if s.party_id == party_id), [])


class Reminder(State):
    id: str = Field(alias="_id")
    case_id: str
    party_id: str
    days_before: int
    session_start: datetime
    due_at: datetime
    status: Literal["pending", "sent", "dropped"] = "pending"


def learnt(state: Readiness, message: Message) -> Readiness | None:
    """The case's readiness after the event; None: nothing changes."""
    if isinstance(message, ReadinessRequired):
        update = {"session_start": message.session_start, "sides": message.sides}
    elif isinstance(message, SideReadinessChanged):
        side = SideOutstanding(party_id=message.party_id, outstanding=message.outstanding)
        update = {"sides": [s for s in state.sides if s.party_id != message.party_id] + [side]}
    elif isinstance(message, CaseWithdrawn):
        update = {"withdrawn": True}
    else:
        return None
    changed = state.model_copy(update=update)
    return None if changed == state else changed


def reminder_id(case_id: str, party_id: str, days: int, session_start: datetime) -> str:
    return f"{case_id}:{party_id}:readiness-{days}d:{session_start.isoformat()}"


def planned(state: Readiness, days: tuple[int, ...]) -> list[Reminder]:
    """Every reminder the case's sides should have now (due or not): none once withdrawn, none for a side done."""
    start = state.session_start
    if start is None or state.withdrawn:
        return []
    return [Reminder(_id=reminder_id(state.id, side.party_id, n, start), case_id=state.id, party_id=side.party_id,
                     days_before=n, session_start=start, due_at=start - timedelta(days=n))
            for side in state.sides if side.outstanding for n in days]


def ahead(reminders: list[Reminder], now: datetime) -> list[Reminder]:
    """Those still to come (a reminder already due is not planned anew, as for calls)."""
    return [r for r in reminders if r.due_at > now]


def confirmed_side(case: CaseState | None, party_id: str) -> tuple[bool, str | None]:
    """Whether the side is confirmed, and its firm (None: unrepresented); before sides existed: every side."""
    if case is None:
        return False, None
    if not case.sides:
        firms = case.party_firms.get(party_id, [])
        return True, firms[0] if firms else None
    side = next((s for s in case.sides if s.party_id == party_id), None)
    if side is None or side.status != SideStatus.CONFIRMED:
        return False, None
    return True, side.firm_id


def due_reminder(reminder: Reminder, state: Readiness | None, case: CaseState | None,
                 now: datetime) -> ReadinessReminder | None:
    """What the side is told when its reminder comes due; None: it is not sent (the side is done or not confirmed,
    the case withdrawn, the session moved or started)."""
    moved = state is None or state.session_start != reminder.session_start
    if moved or state.withdrawn or now >= reminder.session_start:
        return None
    left = state.outstanding(reminder.party_id)
    confirmed, firm = confirmed_side(case, reminder.party_id)
    if not left or not confirmed:
        return None
    return ReadinessReminder(case_id=reminder.case_id, party_id=reminder.party_id, side_firm_id=firm,
                             session_start=reminder.session_start, days_before=reminder.days_before,
                             outstanding=left, reminded_at=reminder.due_at)


def party_of(case: CaseState | None, party_id: str) -> Attendee | None:
    people = case.people.get(party_id, []) if case else []
    return next((a for a in people if a.kind == AttendeeKind.PARTY), None)


def reminder_email(reminder: ReadinessReminder, recipient: Attendee) -> Email:
    when = local_time_text(reminder.session_start, recipient.time_zone)
    items = "\n".join(f"- {ITEM_TEXT.get(item, str(item))}" for item in reminder.outstanding)
    return Email(to=recipient.email, subject=f"Before your mediation session on {when}: still to do",
                 text=letter(recipient, f"Your mediation session is on {when}, in "
                                        f"{plural(reminder.days_before, 'day')}.",
                             f"Before it, your side still needs:\n{items}",
                             "Your attorney or the mediator can mark each item done."))

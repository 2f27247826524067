"""Notes' rules: the brief from every party's objectives (brief.py) and what notes knows of a case (case.py)."""

from .brief import (
    AGENDA_GROUPS,
    AgendaItem,
    Brief,
    CallNotes,
    IssueRow,
    NotHeard,
    Observations,
    PartyObjectives,
    Position,
    are_compatible,
    build_brief,
    classify,
    issue_key,
)
from .case import (
    BriefNotReady,
    CallClosed,
    CallEntry,
    CaseState,
    NotesPurged,
    Outgoing,
    PartyEntry,
    UnknownCall,
)

__all__ = [
    "AGENDA_GROUPS", "AgendaItem", "Brief", "BriefNotReady", "CallClosed", "CallEntry", "CallNotes", "CaseState",
    "IssueRow", "NotHeard", "NotesPurged", "Observations", "Outgoing", "PartyEntry", "PartyObjectives", "Position",
    "UnknownCall", "are_compatible", "build_brief", "classify", "issue_key",
]

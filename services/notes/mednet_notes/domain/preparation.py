"""The mediator's preparation sheet for one call (pure): the other sides' status, one line each.

The use cases add what must be opened first (the side's statement, the earlier calls' notes, the objectives with
their amounts); this module decides what a line says, from the case state alone.
"""

from __future__ import annotations

from .case import CallEntry, CaseState, PartyEntry


def side_line(state: CaseState, party: PartyEntry) -> str:
    """One line on a side: its status and firm, its call(s), whether its objectives and statement are in."""
    firm = party.firm_id or "unrepresented"
    calls = ", ".join(f"{c.status}" for c in state.calls_of(party.party_id)) or "no call yet"
    objectives = "objectives recorded" if state.objectives_of(party.party_id) else "no objectives yet"
    versions = [s.version for s in state.statements if s.party_id == party.party_id]
    statement = f"statement v{max(versions)}" if versions else "no statement"
    return f"{party.party_id} ({party.role}, {firm}): side {party.status}; call {calls}; {objectives}; {statement}"


def other_sides(state: CaseState, call: CallEntry) -> list[str]:
    return [side_line(state, party) for party in state.parties if party.party_id != call.party_id]


def earlier_calls(state: CaseState, call: CallEntry) -> list[CallEntry]:
    """This case's other calls, in the order they became known."""
    return [c for c in state.calls if c.call_id != call.call_id]

"""Who may see and run a case's calls (roles by name: "firm", "mediator", "operator").

A firm sees and moves only the calls of the sides whose confirmed firm it is; the submitting firm is one side like
any other (it sees the case-level facts of the calls list, none of another side's calls). The case's mediator (and
an operator) sees and runs every call.
"""

from __future__ import annotations

from datetime import datetime

from mednet_shared.contracts.values import Party, Reason

from .state import CallStatus, CaseFacts, CaseState


def is_case_mediator(facts: CaseFacts, role: str, mediator_id: str | None) -> bool:
    return role == "mediator" and mediator_id is not None and facts.mediator.mediator_id == mediator_id


def own_sides(facts: CaseFacts, firm_id: str | None) -> set[str]:
    """The parties whose confirmed side is the firm's."""
    if firm_id is None:
        return set()
    return {party.party_id for party in facts.parties if facts.side_firm(party.party_id) == firm_id}


def visible_parties(facts: CaseFacts, role: str, *, firm_id: str | None = None,
                    mediator_id: str | None = None) -> set[str] | None:
    """The parties whose calls the caller may see; None: the case is none of the caller's (404)."""
    if role == "operator" or is_case_mediator(facts, role, mediator_id):
        return {party.party_id for party in facts.parties}
    if role != "firm" or firm_id is None:
        return None
    own = own_sides(facts, firm_id)
    return own if own or firm_id == facts.firm_id else None


def may_read(facts: CaseFacts, role: str, *, firm_id: str | None = None, mediator_id: str | None = None) -> bool:
    return visible_parties(facts, role, firm_id=firm_id, mediator_id=mediator_id) is not None


def may_read_call(facts: CaseFacts, party_id: str, role: str, *, firm_id: str | None = None,
                  mediator_id: str | None = None) -> bool:
    return party_id in (visible_parties(facts, role, firm_id=firm_id, mediator_id=mediator_id) or ())


def may_run(facts: CaseFacts, role: str, *, mediator_id: str | None = None) -> bool:
    """Only the case's mediator (or an operator) runs its calls: complete, miss, cancel, waive, place again."""
    return role == "operator" or is_case_mediator(facts, role, mediator_id)


def may_move(facts: CaseFacts, party_id: str, role: str, *, firm_id: str | None = None,
             mediator_id: str | None = None) -> bool:
    """Reschedule a party's call: the case's mediator, an operator, or the side's own confirmed firm."""
    if may_run(facts, role, mediator_id=mediator_id):
        return True
    return role == "firm" and firm_id is not None and facts.side_firm(party_id) == firm_id


def may_manage_calendar(mediator_id: str, role: str, caller_mediator_id: str | None) -> bool:
    return role == "operator" or (role == "mediator" and caller_mediator_id == mediator_id)


def party_movable_by(facts: CaseFacts | None, firm_id: str, party_id: str) -> Party | None:
    """The party whose call a firm may ask to move: only the firm of the party's confirmed side."""
    if facts is None or facts.side_firm(party_id) != firm_id:
        return None
    return facts.party(party_id)


def side_command_refusals(state: CaseState | None, firm_id: str, case_id: str, party_id: str) -> list[Reason]:
    """Why a firm may not act on a party's side by a command; [] when it may. A case the firm has no side in reads
    exactly as an unknown case (nothing tells a stranger the case exists)."""
    facts = state.facts if state else None
    if facts is None or not (own_sides(facts, firm_id) or firm_id == facts.firm_id):
        return [Reason(field="case_id", message=f"no case {case_id} with a side of firm {firm_id}")]
    if facts.party(party_id) is None or party_movable_by(facts, firm_id, party_id) is None:
        return [Reason(field="party_id", message=f"party {party_id} is not a confirmed side of firm {firm_id}")]
    return []


def reschedule_refusals(state: CaseState | None, firm_id: str, case_id: str, party_id: str,
                        not_before: datetime | None) -> list[Reason]:
    """Every reason a firm's RequestReschedule is refused; [] when it is to be done."""
    reasons = side_command_refusals(state, firm_id, case_id, party_id)
    if reasons and reasons[0].field == "case_id":
        return reasons
    if state.status != "open":
        reasons.append(Reason(field="case_id", message=f"case {case_id} is {state.status}"))
    call = state.calls.get(party_id)
    if not reasons or reasons[0].field != "party_id":
        if call is None or call.status is not CallStatus.SCHEDULED:
            status = call.status.value if call else "not placed"
            reasons.append(Reason(field="party_id", message=f"the call of party {party_id} is {status}, not "
                                                             "scheduled: there is nothing to move"))
    if not_before is not None and not_before >= state.facts.session.start:
        reasons.append(Reason(field="not_before", message="not_before is at or after the session's start"))
    return reasons

"""Who may see and run a case's calls (roles by name: "firm", "mediator", "operator")."""

from __future__ import annotations

from mednet_shared.contracts.values import Party

from .state import CaseFacts


def may_read(facts: CaseFacts, role: str, *, firm_id: str | None = None, mediator_id: str | None = None) -> bool:
    if role == "operator":
        return True
    if role == "mediator":
        return facts.mediator.mediator_id == mediator_id
    return firm_id in facts.participant_firms


def may_run(facts: CaseFacts, role: str, *, mediator_id: str | None = None) -> bool:
    """Only the case's mediator (or an operator) runs its calls."""
    return role == "operator" or facts.mediator.mediator_id == mediator_id


def may_manage_calendar(mediator_id: str, role: str, caller_mediator_id: str | None) -> bool:
    return role == "operator" or caller_mediator_id == mediator_id


def represented_by(facts: CaseFacts, party: Party) -> set[str]:
    return {facts.firm_id} | ({party.attorney.firm_id} if party.attorney else set())


def party_movable_by(facts: CaseFacts | None, firm_id: str, party_id: str) -> Party | None:
    """The party whose call a firm may ask to move: the case's firm, or the party's attorney's."""
    party = facts.party(party_id) if facts else None
    return party if party is not None and firm_id in represented_by(facts, party) else None

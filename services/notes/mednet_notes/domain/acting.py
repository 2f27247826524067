"""Who acts as a side of a case (pure): its own confirmed firm, named by its id, or the side itself through the
signed link of its emails, whether or not a firm acts for it (an unrepresented party has only the link). The case's
mediator is judged apart, by the rules that let it act."""

from __future__ import annotations

from dataclasses import dataclass

from .case import CaseState


@dataclass(frozen=True)
class SignedLink:
    """The side itself: a link the wiring verified as signed for this one party of this one case."""

    case_id: str
    party_id: str


Actor = str | SignedLink | None
"""A firm id (its token, its inbound topic), the side's signed link, or none (the mediator, or nobody)."""


def acts_for(state: CaseState | None, party_id: str, actor: Actor) -> bool:
    """Whether `actor` is the party's confirmed side: the link signed for this party of this case, or the side's
    own firm. Never another party, another case, or a side not (or no longer) confirmed."""
    party = state.party(party_id) if state else None
    if party is None or not party.confirmed:
        return False
    if isinstance(actor, SignedLink):
        return actor == SignedLink(state.case_id, party_id)
    return actor is not None and party.firm_id == actor

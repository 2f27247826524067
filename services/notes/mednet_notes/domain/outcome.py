"""Each call closes with an outcome (pure): held, partly held or not held, the checklist items confirmed in it, and the
next step agreed. The public part goes to that side only (CallOutcomeRecorded naming its firm); the mediator's
confidential remarks are sealed by the use cases and kept as an opaque token here. The same outcome again changes
nothing; a changed one is recorded again under a new event id."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from mednet_shared.contracts.envelope import derived_id
from mednet_shared.contracts.events import CallOutcomeRecorded
from mednet_shared.contracts.values import ReadinessItem

from .case import CallEntry, CaseState, Decision, Outgoing, RecordedOutcome


class CallOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["held", "partly_held", "not_held"]
    items_confirmed: list[ReadinessItem] = Field(default_factory=list, max_length=len(ReadinessItem))
    next_step: Annotated[str, StringConstraints(max_length=2000)] = ""
    next_step_due: AwareDatetime | None = None
    confidential: Annotated[str, StringConstraints(max_length=5000)] = Field(
        default="", description="The mediator's remarks on the outcome: sealed, never sent")

    def public(self) -> dict:
        return self.model_dump(mode="json", exclude={"confidential"})


def record_outcome(state: CaseState, call: CallEntry, outcome: CallOutcome, sealed_confidential: str,
                   now: datetime) -> Decision:
    public = outcome.public()
    fingerprint = hashlib.sha256(json.dumps(public, sort_keys=True).encode()).hexdigest()[:16]
    known = next((o for o in state.outcomes if o.call_id == call.call_id), None)
    if known is not None and known.fingerprint == fingerprint and not sealed_confidential:
        return None
    entry = RecordedOutcome(call_id=call.call_id, party_id=call.party_id, fingerprint=fingerprint,
                            sealed_confidential=sealed_confidential or (known.sealed_confidential if known else ""),
                            recorded_at=now, **public)
    outcomes = [o for o in state.outcomes if o.call_id != call.call_id] + [entry]
    changed = state.model_copy(update={"outcomes": outcomes})
    if known is not None and known.fingerprint == fingerprint:
        return changed, []
    party = state.party(call.party_id)
    event = CallOutcomeRecorded(case_id=state.case_id, call_id=call.call_id, party_id=call.party_id,
                                side_firm_id=party.firm_id if party else None, recorded_at=now, **public)
    return changed, [Outgoing(event, derived_id(call.call_id, "outcome", fingerprint))]

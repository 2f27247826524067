"""Which firm hears of which event, and what it sees: each firm only its own cases' events, projected for it.

No firm ever receives another side's objectives, the mediator's brief, or anything confidential; the
mediator's private observations never reach notify at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mednet_shared.contracts.envelope import CloudEvent, derived_id
from mednet_shared.contracts.events import (
    CallCancelled,
    CallCompleted,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CaseOpened,
    CaseRejected,
    CaseUpdated,
    CaseWithdrawn,
    Message,
    ObjectivesRecorded,
    PreMediationCompleted,
    SchedulingFailed,
)
from mednet_shared.contracts.values import AttendeeKind

SOURCE = "/mednet/notify"


@dataclass(frozen=True)
class CaseFacts:
    """What notify knows of a case from earlier events: who submitted it and which firm represents which party."""

    firm_id: str = ""
    party_firms: dict[str, set[str]] = field(default_factory=dict)


ROUTED_BY_FACTS = (SchedulingFailed, CallScheduled, CallRescheduled, CallCancelled, CallCompleted, CallMissed)


def firms_for(message: Message, facts: CaseFacts) -> set[str]:
    if isinstance(message, CaseRejected):
        return {message.firm_id}
    if isinstance(message, (CaseOpened, CaseUpdated, CaseWithdrawn, PreMediationCompleted)):
        return set(message.participant_firms)
    if isinstance(message, ObjectivesRecorded):
        return {message.party_firm_id} if message.party_firm_id else set()
    if isinstance(message, SchedulingFailed):
        return {message.firm_id} | facts.party_firms.get(message.party_id or "", set())
    if isinstance(message, (CallScheduled, CallRescheduled, CallCancelled)):
        own = {a.firm_id for a in message.attendees if a.firm_id and a.kind != AttendeeKind.MEDIATOR}
        return own | ({facts.firm_id} if facts.firm_id else set())
    if isinstance(message, (CallCompleted, CallMissed)):
        return facts.party_firms.get(message.party_id, set()) | ({facts.firm_id} if facts.firm_id else set())
    return set()


def project(event: CloudEvent, message: Message, firm_id: str) -> CloudEvent:
    """The event as firm_id receives it on mednet.firm.<firm_id>.outbound and by webhook."""
    return CloudEvent(
        id=derived_id(event.id, "firm", firm_id),
        type=event.type,
        source=SOURCE,
        subject=event.subject,
        time=event.time,
        data=message.model_dump(mode="json"),
        firmid=firm_id,
        correlationid=event.correlationid or event.id,
        causationid=event.id,
    )

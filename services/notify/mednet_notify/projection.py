"""What a firm sees of an event: each firm only its own cases' events (domain.ROUTES says which), projected for it.

No firm ever receives another side's objectives, the mediator's brief, or anything confidential; the
mediator's private observations never reach notify at all.
"""

from __future__ import annotations

from mednet_shared.contracts.envelope import CloudEvent, derived_id
from mednet_shared.contracts.events import Message

SOURCE = "/mednet/notify"


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

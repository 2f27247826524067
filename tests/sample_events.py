"""Valid events to push through the platform in tests."""

from datetime import UTC, datetime, timedelta

from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.events import CallCompleted


def call_completed(case_id: str = "case-1", party: str = "p1", **overrides) -> CallCompleted:
    fields = dict(
        call_id=f"{case_id}:{party}", case_id=case_id, party_id=party, mediator_id="med-1", sequence=1,
        completed_at=datetime(2026, 12, 1, 10, tzinfo=UTC) + timedelta(minutes=1), participant_firms=["firm-a"],
    )
    return CallCompleted(**{**fields, **overrides})


def completed_event(case_id: str = "case-1", party: str = "p1") -> CloudEvent:
    return new_event(call_completed(case_id, party), source="/tests", firm_id="firm-a")

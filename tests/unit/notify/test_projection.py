from datetime import UTC, datetime, timedelta

from mednet_notify.domain import CaseState, firms_for
from mednet_notify.projection import project
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import (
    BriefReady,
    CallCompleted,
    CallScheduled,
    CaseRejected,
    NotificationSent,
    ObjectivesRecorded,
    SchedulingFailed,
)

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
FACTS = CaseState(firm_id="firm-s", party_firms={"p1": ["firm-a"], "p2": ["firm-b"]})
PEOPLE = [{"kind": "party", "name": "P", "email": "p@x.org", "time_zone": "UTC", "firm_id": "firm-a"},
          {"kind": "attorney", "name": "A", "email": "a@x.org", "time_zone": "UTC", "firm_id": "firm-a"},
          {"kind": "mediator", "name": "M", "email": "m@x.org", "time_zone": "UTC"}]


def test_objectives_go_to_the_partys_own_firm_only():
    recorded = ObjectivesRecorded(case_id="c", call_id="c:p1", party_id="p1", party_firm_id="firm-a",
                                  objectives=[{"issue": "apology", "wants": "x", "priority": 1}], recorded_at=NOW)
    assert firms_for(recorded, FACTS) == {"firm-a"}
    assert firms_for(recorded.model_copy(update={"party_firm_id": None}), FACTS) == set()


def test_the_brief_and_notification_outcomes_reach_no_firm():
    assert firms_for(BriefReady(case_id="c", mediator_id="m", party_ids=["p1", "p2"], ready_at=NOW), FACTS) == set()
    sent = NotificationSent(notification_id="n-1", case_id="c", source_event_id="e", source_event_type="t",
                            channel="email", recipient="p@x.org", kind="invitation", sent_at=NOW)
    assert firms_for(sent, FACTS) == set()


def test_a_call_reaches_its_own_sides_firm_only_not_the_submitting_firm():
    call = CallScheduled(call_id="c:p1", case_id="c", party_id="p1", mediator_id="m", sequence=0, start=NOW,
                         end=NOW + timedelta(minutes=45), attendees=PEOPLE, participant_firms=["firm-a", "firm-b"])
    assert firms_for(call, FACTS) == {"firm-a"}
    assert firms_for(call.model_copy(update={"side_firm_id": "firm-a"}), FACTS) == {"firm-a"}
    completed = CallCompleted(call_id="c:p2", case_id="c", party_id="p2", mediator_id="m", sequence=0,
                              completed_at=NOW, participant_firms=["firm-a", "firm-b"])
    assert firms_for(completed, FACTS) == {"firm-b"}


def test_rejections_and_failures_reach_the_right_firms():
    rejected = CaseRejected(firm_id="firm-s", external_ref="r", reasons=[{"field": "x", "message": "y"}])
    assert firms_for(rejected, FACTS) == {"firm-s"}
    failed = SchedulingFailed(case_id="c", firm_id="firm-s", mediator_id="m", party_id="p2", reason="r",
                              participant_firms=["firm-a", "firm-b"])
    assert firms_for(failed, FACTS) == {"firm-b"}, "a side's failure is that side's"
    assert firms_for(failed.model_copy(update={"party_id": None}), FACTS) == {"firm-s"}


def test_the_projection_is_a_new_event_for_that_firm_caused_by_the_original():
    original = new_event(CaseRejected(firm_id="firm-s", external_ref="r", reasons=[{"field": "x", "message": "y"}]),
                         source="/mednet/intake")
    projected = project(original, original.payload(), "firm-s")
    assert projected.firmid == "firm-s" and projected.causationid == original.id
    assert projected.id != original.id and projected.id == project(original, original.payload(), "firm-s").id
    assert projected.data == original.data

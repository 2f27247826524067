from datetime import UTC, datetime, timedelta

import pytest

from mednet_intake import domain
from mednet_intake.domain import NotAllowed, Rejected
from datetime import time

from mednet_shared.contracts.events import AcceptRepresentation
from mednet_shared.contracts.values import Session, WeeklyWindow
from sample_cases import party, submission, variant

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def opened(**overrides) -> domain.Case:
    document = {**submission("ref-1", now=NOW), **overrides}
    return domain.open_case("firm-x", domain.parse_submission(document), NOW)


def test_the_same_firm_and_reference_always_name_the_same_case():
    assert domain.case_id_for("firm-x", "ref-1") == domain.case_id_for("firm-x", "ref-1")
    assert domain.case_id_for("firm-x", "ref-1") != domain.case_id_for("firm-y", "ref-1")
    assert opened().case_id == domain.case_id_for("firm-x", "ref-1")


def accept(case: domain.Case, firm: str, party_id: str, **corrections) -> domain.Case:
    command = AcceptRepresentation(case_id=case.case_id, party_id=party_id, **corrections)
    return domain.accept_representation(case, firm, command, NOW)[0]


def test_participant_firms_are_the_submitter_and_every_confirmed_sides_firm_only():
    case = opened()
    assert case.participant_firms == ["firm-x"] and not case.visible_to("firm-a") and case.known_to("firm-a")
    assert accept(case, "firm-a", "p1").participant_firms == ["firm-a", "firm-x"]
    assert not opened().known_to("firm-z")


def test_every_problem_is_reported_at_once():
    document = variant(submission("ref-1", now=NOW), "parties.1.party_id", "p1")
    document = variant(document, "session.start", (NOW - timedelta(days=1)).isoformat())
    with pytest.raises(Rejected) as rejected:
        domain.open_case("firm-x", domain.parse_submission(document), NOW)
    fields = [reason.field for reason in rejected.value.reasons]
    assert "session.start" in fields and "parties.1.party_id" in fields


def test_schema_problems_name_their_fields_without_echoing_input():
    with pytest.raises(Rejected) as rejected:
        domain.parse_submission(variant(submission("ref-1"), "mediator.email", "SECRET-not-an-email"))
    assert rejected.value.reasons[0].field == "mediator.email"
    assert "SECRET" not in str(rejected.value)


def test_two_sides_are_needed():
    document = variant(submission("ref-1", now=NOW), "parties.1.role", "claimant")
    with pytest.raises(Rejected, match="two sides"):
        domain.open_case("firm-x", domain.parse_submission(document), NOW)


def test_moving_the_session_and_adding_a_party_bump_the_revision():
    case = opened()
    later = Session(start=NOW + timedelta(days=40), end=NOW + timedelta(days=40, hours=3), time_zone="UTC")
    newcomer = domain.parse_submission(
        {**submission("ref-1", now=NOW), "parties": [*submission("ref-1")["parties"],
                                                     party("p9", "other", "Asia/Kolkata", "firm-n")]}).parties[-1]
    changed, events = domain.change_case(case, "firm-x", NOW, session=later, add_parties=[newcomer])
    updated = events[0]
    assert changed.revision == updated.revision == 2
    assert changed.changes == ("session_moved", "party_added") and updated.changes == list(changed.changes)
    assert updated.participant_firms == ["firm-x"] and updated.party_ids == ["p9"]
    assert changed.side("p9").status == "awaiting_confirmation"
    assert [r.firm_id for r in events[1:]] == ["firm-n"]


def test_only_the_submitting_firm_changes_or_withdraws_and_only_while_open():
    case = opened()
    with pytest.raises(NotAllowed):
        domain.withdraw(case, "firm-a")
    withdrawn, event = domain.withdraw(case, "firm-x", "settled")
    assert withdrawn.status == "withdrawn" and event.reason == "settled" and withdrawn.revision == 2
    with pytest.raises(NotAllowed):
        domain.withdraw(withdrawn, "firm-x")


def test_a_partys_own_confirmed_firm_or_the_mediator_may_change_its_availability():
    windows = domain.parse_submission(submission("ref-1")).parties[0].availability[:1]
    with pytest.raises(NotAllowed):
        domain.change_availability(opened(), "firm-a", "p1", windows, [])   # named, not confirmed yet
    case = accept(accept(opened(), "firm-a", "p1"), "firm-b", "p2")
    changed, _ = domain.change_availability(case, "firm-a", "p1", windows, [])
    assert changed.parties[0].availability == windows and changed.changes == ("availability_changed",)
    for firm in ("firm-b", "firm-x"):
        with pytest.raises(NotAllowed):
            domain.change_availability(case, firm, "p1", windows, [])
    assert domain.change_availability(case, None, "p1", windows, [], by_mediator="med-ada")[0].revision == 4
    with pytest.raises(NotAllowed):
        domain.change_availability(case, None, "p1", windows, [], by_mediator="med-bob")
    with pytest.raises(Rejected):
        domain.change_availability(case, "firm-a", "nobody", windows, [])


def test_a_refusal_lists_every_problem_with_the_permission_first():
    backwards = [WeeklyWindow(day="mon", start=time(12), end=time(10))]
    with pytest.raises(NotAllowed) as refused:
        domain.change_availability(opened(), "firm-b", "p1", backwards, [])
    assert [r.field for r in refused.value.reasons] == ["", "availability.0.end"]


def test_each_reader_sees_its_own_side_only():
    case = accept(opened(), "firm-a", "p1")
    mine = domain.firm_view(case, "firm-a")
    assert [p["party_id"] for p in mine["parties"]] == ["p1"] and [s["party_id"] for s in mine["sides"]] == ["p1"]
    assert "title" not in mine and "participant_firms" not in mine and "email" not in mine["mediator"]
    submitter = domain.firm_view(case, "firm-x")
    assert submitter["parties"] == [] and submitter["title"] == "Dispute ref-1"
    assert [(s["party_id"], s["status"]) for s in submitter["sides"]] == [
        ("p1", "confirmed"), ("p2", "awaiting_confirmation")]
    pending = domain.firm_view(case, "firm-b")
    assert pending["parties"] == [] and pending["pending"] == [{"party_id": "p2", "role": "respondent",
                                                                "name": "Party p2"}]
    assert "p1@" not in str(pending) and "p2@" not in str(pending)
    assert domain.firm_view(case, "firm-z") is None
    assert len(domain.full_view(case)["parties"]) == 2


def test_accepting_twice_is_the_same_answer_and_no_second_event():
    case = accept(opened(), "firm-a", "p1")
    again, events = domain.accept_representation(case, "firm-a", AcceptRepresentation(
        case_id=case.case_id, party_id="p1"), NOW)
    assert again is case and events == []


def test_the_overdue_deadline_is_the_earliest_pending_confirmation_and_each_side_is_raised_once():
    case = opened()
    assert case.due == case.session.start - timedelta(days=7)
    assert domain.raise_overdue(case, case.due - timedelta(seconds=1)) == (case, [])
    raised, events = domain.raise_overdue(case, case.due)
    assert [e.party_id for e in events] == ["p1", "p2"] and raised.due is None
    assert domain.raise_overdue(raised, case.due) == (raised, [])
    assert accept(accept(opened(), "firm-a", "p1"), "firm-b", "p2").due is None


def test_nothing_to_change_is_a_clear_rejection():
    with pytest.raises(Rejected, match="nothing to change"):
        domain.change_case(opened(), "firm-x", NOW)


def test_a_case_stored_in_the_first_shape_reads_as_intakes_own_state():
    case = opened()
    first_shape = {"_id": case.case_id, "firm_id": "firm-x", "revision": 3, "status": "withdrawn",
                   "changes": ["session_moved"], "created_at": NOW,
                   "submission": domain.parse_submission(submission("ref-1", now=NOW)).model_dump(mode="json")}
    migrated = domain.stored_case(first_shape)
    confirmed = [s.model_copy(update={"status": "confirmed", "confirmed_by": "submitter"}) for s in case.sides]
    assert migrated == case.model_copy(update={"revision": 3, "status": "withdrawn", "changes": ("session_moved",),
                                               "sides": confirmed})
    assert domain.stored_case(domain.case_document(migrated)) == migrated
    assert "submission" not in domain.case_document(migrated) and domain.case_document(migrated)["schema"] == 3


def test_the_same_reference_with_other_content_is_refused_and_the_same_submission_is_its_case():
    case = opened()
    assert domain.resubmitted(case, opened()) is case
    with pytest.raises(Rejected, match="different content"):
        domain.resubmitted(case, opened(title="Another title"))

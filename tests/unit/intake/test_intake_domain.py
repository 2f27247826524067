from datetime import UTC, datetime, timedelta

import pytest

from mednet_intake import domain
from mednet_intake.domain import NotAllowed, Rejected
from mednet_shared.contracts.values import Session
from sample_cases import party, submission, variant

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def opened(**overrides) -> domain.Case:
    document = {**submission("ref-1", now=NOW), **overrides}
    return domain.open_case("firm-x", domain.parse_submission(document), NOW)


def test_the_same_firm_and_reference_always_name_the_same_case():
    assert domain.case_id_for("firm-x", "ref-1") == domain.case_id_for("firm-x", "ref-1")
    assert domain.case_id_for("firm-x", "ref-1") != domain.case_id_for("firm-y", "ref-1")
    assert opened().case_id == domain.case_id_for("firm-x", "ref-1")


def test_participant_firms_are_the_submitter_and_every_attorney_firm():
    assert opened().participant_firms == ["firm-a", "firm-b", "firm-x"]
    assert opened().visible_to("firm-a") and not opened().visible_to("firm-z")


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
    changed, updated = domain.change_case(case, "firm-x", NOW, session=later, add_parties=[newcomer])
    assert changed.revision == updated.revision == 2
    assert changed.changes == ("session_moved", "party_added") and updated.changes == list(changed.changes)
    assert updated.participant_firms == ["firm-a", "firm-b", "firm-n", "firm-x"]


def test_only_the_submitting_firm_changes_or_withdraws_and_only_while_open():
    case = opened()
    with pytest.raises(NotAllowed):
        domain.withdraw(case, "firm-a")
    withdrawn, event = domain.withdraw(case, "firm-x", "settled")
    assert withdrawn.status == "withdrawn" and event.reason == "settled" and withdrawn.revision == 2
    with pytest.raises(NotAllowed):
        domain.withdraw(withdrawn, "firm-x")


def test_a_partys_own_attorney_firm_may_change_its_availability():
    case = opened()
    windows = domain.parse_submission(submission("ref-1")).parties[0].availability[:1]
    changed, _ = domain.change_availability(case, "firm-a", "p1", windows, [])
    assert changed.parties[0].availability == windows and changed.changes == ("availability_changed",)
    with pytest.raises(NotAllowed):
        domain.change_availability(case, "firm-b", "p1", windows, [])
    with pytest.raises(Rejected):
        domain.change_availability(case, "firm-a", "nobody", windows, [])


def test_nothing_to_change_is_a_clear_rejection():
    with pytest.raises(Rejected, match="nothing to change"):
        domain.change_case(opened(), "firm-x", NOW)


def test_a_case_stored_in_the_first_shape_reads_as_intakes_own_state():
    case = opened()
    first_shape = {"_id": case.case_id, "firm_id": "firm-x", "revision": 3, "status": "withdrawn",
                   "changes": ["session_moved"], "created_at": NOW,
                   "submission": domain.parse_submission(submission("ref-1", now=NOW)).model_dump(mode="json")}
    migrated = domain.stored_case(first_shape)
    assert migrated == case.model_copy(update={"revision": 3, "status": "withdrawn", "changes": ("session_moved",)})
    assert domain.stored_case(domain.case_document(migrated)) == migrated
    assert "submission" not in domain.case_document(migrated) and domain.case_document(migrated)["schema"] == 2


def test_the_same_reference_with_other_content_is_refused_and_the_same_submission_is_its_case():
    case = opened()
    assert domain.resubmitted(case, opened()) is case
    with pytest.raises(Rejected, match="different content"):
        domain.resubmitted(case, opened(title="Another title"))

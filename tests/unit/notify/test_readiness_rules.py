"""Readiness reminders' pure rules: the offsets setting, what is planned, and when a due reminder is not sent."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mednet_notify.config import Settings
from mednet_notify.domain import CaseState
from mednet_notify.readiness import Readiness, Reminder, ahead, due_reminder, learnt, parse_days, planned
from mednet_shared.contracts.events import CaseWithdrawn, SideReadinessChanged
from mednet_shared.contracts.values import Side

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
START = NOW + timedelta(days=10)


def state(**more) -> Readiness:
    return Readiness(_id="case-1", **{"session_start": START, "sides": [
        {"party_id": "p1", "outstanding": ["agreement_signed"]}, {"party_id": "p2", "outstanding": []}], **more})


def case(status: str = "confirmed", firm: str | None = "firm-a") -> CaseState:
    return CaseState(sides=[Side(party_id="p1", role="claimant", firm_id=firm, status=status, since=NOW)])


def reminder(days: int = 7, start: datetime = START) -> Reminder:
    return Reminder(_id="r", case_id="case-1", party_id="p1", days_before=days, session_start=start,
                    due_at=start - timedelta(days=days))


def test_the_days_are_whole_distinct_and_at_least_one():
    assert parse_days("7,2") == (7, 2) and parse_days(" 2 , 14 ") == (14, 2) and parse_days("1") == (1,)
    for bad in ("", "0", "7,", "7,7", "a", "-1", "2.5", "7;2"):
        with pytest.raises(ValueError):
            parse_days(bad)


def test_a_bad_setting_stops_the_service_with_the_variables_name(monkeypatch):
    monkeypatch.setenv("MEDNET_NOTIFY_READINESS_REMINDER_DAYS", "7,zero")
    with pytest.raises(ValidationError, match="MEDNET_NOTIFY_READINESS_REMINDER_DAYS"):
        Settings(kafka_bootstrap_servers="k:9092", mongodb_url="mongodb://m", jwt_jwks_url="https://i.example/j")
    monkeypatch.delenv("MEDNET_NOTIFY_READINESS_REMINDER_DAYS")
    assert Settings(kafka_bootstrap_servers="k:9092", mongodb_url="mongodb://m",
                    jwt_jwks_url="https://i.example/j").readiness_days == (7, 2)


def test_only_sides_with_items_outstanding_are_planned_and_none_once_withdrawn():
    assert [(r.party_id, r.days_before) for r in planned(state(), (7, 2))] == [("p1", 7), ("p1", 2)]
    assert planned(state(withdrawn=True), (7, 2)) == [] and planned(state(session_start=None), (7,)) == []
    assert [r.days_before for r in ahead(planned(state(), (14, 7)), NOW)] == [7], "14 days before is past"


def test_a_side_change_replaces_that_sides_items_and_a_withdrawal_is_remembered():
    done = SideReadinessChanged(case_id="case-1", party_id="p1", mediator_id="m", item="agreement_signed", done=True,
                                set_by="firm", outstanding=[], ready=True, changed_at=NOW)
    after = learnt(state(), done)
    assert after.outstanding("p1") == [] and learnt(after, done) is None
    assert learnt(state(), CaseWithdrawn(case_id="case-1", firm_id="firm-s", participant_firms=[])).withdrawn


def test_a_due_reminder_is_sent_only_while_its_side_is_confirmed_and_has_items_left():
    sent = due_reminder(reminder(), state(), case(), NOW)
    assert (sent.party_id, sent.side_firm_id, sent.outstanding) == ("p1", "firm-a", ["agreement_signed"])
    assert due_reminder(reminder(), state(sides=[{"party_id": "p1", "outstanding": []}]), case(), NOW) is None
    assert due_reminder(reminder(), state(withdrawn=True), case(), NOW) is None
    assert due_reminder(reminder(), state(session_start=START + timedelta(hours=1)), case(), NOW) is None
    assert due_reminder(reminder(), state(), case(), START) is None, "the session has started"
    assert due_reminder(reminder(), state(), case("awaiting_confirmation"), NOW) is None
    assert due_reminder(reminder(), state(), None, NOW) is None
    assert due_reminder(reminder(), state(), case(firm=None), NOW).side_firm_id is None

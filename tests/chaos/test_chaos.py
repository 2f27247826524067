"""The chaos run in the suite: 200 cases through the whole flow on the consent flow (each side offered slots, its
firm choosing one at once) on a three-broker cluster while service instances are SIGKILLed every few seconds and
one broker dies; nothing may be lost, doubled or left behind. First, the ledger's own checks: a lost or doubled
booking, a refused choice or a second offer fails the run."""

import sys
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from mednet_cli.chaos.ledger import Choice, Ledger
from mednet_cli.chaos.run import ChaosRun, Plan, report
from mednet_cli.chaos.verdict import consent, judge
from mednet_cli.smtp_sink import Mailbox
from mednet_shared.contracts.envelope import CloudEvent

FIRM, START = "chaos-t-f0", datetime(2030, 1, 7, 9, tzinfo=UTC)
SLOTS = {f"o1-s{n}": (START + timedelta(hours=n), START + timedelta(hours=n, minutes=45)) for n in range(3)}


def event(kind: str, event_id: str, **data) -> CloudEvent:
    return CloudEvent(id=event_id, type=f"mednet.{kind}.v1", source="/mednet/test", subject="case-1",
                      time=datetime.now(UTC), data={"case_id": "case-1", **data})


def offered(offer_id: str = "o1", firms=(FIRM,)) -> CloudEvent:
    return event("CallSlotsOffered", f"ev-{offer_id}", call_id="call-1", party_id="p1", offer_id=offer_id,
                 side_firm_id=firms[0], participant_firms=list(firms),
                 slots=[{"slot_id": s, "start": a.isoformat(), "end": b.isoformat()} for s, (a, b) in SLOTS.items()])


def scheduled(event_id: str, slot: str = "o1-s1", booked_by: str = "choice") -> CloudEvent:
    start, end = SLOTS[slot]
    return event("CallScheduled", event_id, call_id="call-1", party_id="p1", mediator_id="m1", sequence=0,
                 start=start.isoformat(), end=end.isoformat(), booked_by=booked_by, participant_firms=[FIRM],
                 attendees=[{"email": "p1@parties.example.org"}, {"email": "m1@mediators.example.org"}])


def ledger_after(*events: CloudEvent, choose: str | None = "o1-s1") -> tuple[Ledger, list]:
    asked = []
    ledger = Ledger(firms=frozenset({FIRM}), on_offered=asked.append)
    ledger.apply(events[0])
    if choose:
        ledger.chose(Choice("o1", choose, "choice-1"))
    for later in events[1:]:
        ledger.apply(later)
    return ledger, asked


def passed(ledger: Ledger) -> bool:
    return judge([], [], ledger, Mailbox(), [], {}, {}, 0, 1.0).passed


def test_an_offer_chosen_and_booked_once_as_chosen_passes_even_when_its_events_come_twice():
    ledger, asked = ledger_after(offered(), offered(), scheduled("b1"), scheduled("b1"))
    booking = consent(ledger)
    assert [offer.offer_id for offer in asked] == ["o1"], "the firm is asked once per offer"
    assert (booking.offers_made, booking.choices_sent, booking.examples) == (1, 1, [])
    assert passed(ledger)


@pytest.mark.parametrize("events, choose, figure", [
    ((offered(), scheduled("b1"), scheduled("b2")), "o1-s1", "calls_booked_twice"),
    ((offered(),), "o1-s1", "choices_lost"),
    ((offered(), scheduled("b1", slot="o1-s2")), "o1-s1", "choices_lost"),
    ((offered(), scheduled("b1", booked_by="deadline")), "o1-s1", "choices_lost"),
    ((offered(), scheduled("b1")), None, "bookings_without_choice"),
    ((offered(), offered("o2"), scheduled("b1")), "o1-s1", "calls_offered_twice"),
    ((offered(), event("CommandRejected", "r1", firm_id=FIRM, command_id="choice-1", reasons=[{"field": "",
                                                                                          "message": "no"}]),
      scheduled("b1")), "o1-s1", "choices_refused"),
], ids=["booked twice", "choice lost", "booked another slot", "booked by the deadline", "booked unchosen",
        "offered twice", "choice refused"])
def test_a_lost_doubled_or_unchosen_booking_fails_the_run(events, choose, figure):
    ledger, _ = ledger_after(*events, choose=choose)
    assert getattr(consent(ledger), figure) >= 1, consent(ledger)
    assert not passed(ledger)


def test_another_firms_offers_are_neither_chosen_nor_counted():
    ledger, asked = ledger_after(offered(firms=("chaos-other-f0",)), choose=None)
    assert asked == [] and consent(ledger).offers_made == 0 and passed(ledger)


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_nothing_is_lost_doubled_or_left_behind_when_instances_and_a_broker_are_killed(tmp_path):
    plan = Plan(cases=200, poison=12, submit_seconds=50, kill_every=(3.0, 6.0), broker_down_seconds=10,
                drain_timeout=900)
    console = Console(file=sys.stdout, width=120)
    figures = await ChaosRun(plan, tmp_path, console).run()
    report(figures, console)
    calls = figures.calls_live
    assert figures.faults_injected >= 8, "a few instances and one broker were killed"
    assert figures.cases_lost == 0, figures.lost_examples
    assert figures.offers_made == figures.choices_sent == calls > 0, "every side offered once and its choice sent"
    assert figures.choices_resent > 0, "some choices were sent twice (a firm's retry)"
    assert figures.choices_refused == figures.choices_lost == 0, figures.consent_examples
    assert figures.calls_offered_twice == figures.calls_booked_twice == figures.bookings_without_choice == 0, \
        figures.consent_examples
    assert figures.duplicate_alerts == 0, figures.duplicate_examples
    assert figures.double_bookings == 0
    assert figures.outbox_backlog == 0 and figures.consumer_lag == 0
    assert figures.dead_letters_distinct == figures.dead_letters_matching_poison == plan.poison
    assert figures.unexpected_dead_letters == 0
    assert figures.seconds_to_drain is not None
    assert figures.passed

"""The figures a run is judged by, from what the network published, delivered and left behind."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from .inspect import DeadLetter
from .ledger import LIVE, Call, Ledger
from ..smtp_sink import Mailbox
from .workload import Poison, Submission


@dataclass
class Figures:
    cases_submitted: int
    cases_done: int
    cases_lost: int
    calls_live: int
    invitations_delivered: int
    duplicate_alerts: int
    smtp_resends_same_message_id: int
    double_bookings: int
    offers_made: int
    choices_sent: int
    choices_resent: int
    choices_refused: int
    choices_lost: int
    calls_offered_twice: int
    calls_booked_twice: int
    bookings_without_choice: int
    outbox_backlog: int
    consumer_lag: int
    poison_injected: int
    dead_letters: int
    dead_letters_distinct: int
    dead_letters_matching_poison: int
    unexpected_dead_letters: int
    scheduling_failures: int
    faults_injected: int
    seconds_to_drain: float | None
    lost_examples: list[str] = field(default_factory=list)
    duplicate_examples: list[str] = field(default_factory=list)
    consent_examples: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (self.cases_lost == 0 and self.duplicate_alerts == 0 and self.double_bookings == 0
                and self.choices_refused == self.choices_lost == self.calls_offered_twice == 0
                and self.calls_booked_twice == self.bookings_without_choice == 0
                and self.outbox_backlog == 0 and self.consumer_lag == 0
                and self.dead_letters_distinct == self.dead_letters_matching_poison == self.poison_injected)

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def missing_for(submission: Submission, ledger: Ledger, mailbox: Mailbox) -> str | None:
    """Why a case is not done yet, or None when every step of its flow happened."""
    case_id = ledger.opened.get(submission.event_id)
    if case_id is None:
        return "no CaseOpened" + (" (rejected)" if submission.event_id in ledger.rejected else "")
    offers = ledger.offers_of(case_id)
    sides = len({offer.party_id for offer in offers})
    if sides < submission.parties:
        return f"{sides} of {submission.parties} sides offered slots"
    unanswered = [offer.offer_id for offer in offers if offer.offer_id not in ledger.choices]
    if unanswered:
        return f"{len(unanswered)} offers not chosen"
    live = [call for call in ledger.calls_of(case_id) if call.status in LIVE]
    if len(live) < submission.parties:
        return f"{len(live)} of {submission.parties} calls booked"
    if any(call.status != "completed" for call in live):
        return "calls not all completed"
    uninvited = [(call.call_id, a) for call in live for a in call.attendees if not mailbox.invited(call.call_id, a)]
    if uninvited:
        return f"{len(uninvited)} invitations not delivered"
    if case_id not in ledger.premediation_completed:
        return "no PreMediationCompleted"
    if case_id not in ledger.briefs:
        return "no BriefReady"
    return None


@dataclass(frozen=True)
class Consent:
    """Offers, choices and bookings: every offer chosen once, every choice booked as chosen, every call offered
    and booked exactly once, nothing booked that was not chosen."""

    offers_made: int
    choices_sent: int
    choices_refused: int
    choices_lost: int
    calls_offered_twice: int
    calls_booked_twice: int
    bookings_without_choice: int
    examples: list[str]


def consent(ledger: Ledger, case_ids: Iterable[str] | None = None) -> Consent:
    cases = set(ledger.offers_by_case) | set(ledger.calls_by_case) if case_ids is None else set(case_ids)
    offers = [offer for case_id in cases for offer in ledger.offers_of(case_id)]
    call_ids = {offer.call_id for offer in offers} | {c for case_id in cases for c in ledger.calls_by_case.get(case_id, ())}
    chosen = {offer.call_id: (offer, ledger.choices[offer.offer_id]) for offer in offers
              if offer.offer_id in ledger.choices}
    examples: list[str] = []

    def booked_as_chosen(call_id: str) -> bool:
        call, pick = ledger.calls.get(call_id), chosen.get(call_id)
        return (call is not None and pick is not None and call.booked_by == "choice"
                and (call.start, call.end) == pick[0].slots[pick[1].slot_id])

    def count(what: str, wrong: list[str]) -> int:
        examples.extend(f"{what}: {item}" for item in wrong[:5])
        return len(wrong)

    return Consent(
        offers_made=len(offers),
        choices_sent=len(chosen),
        choices_refused=count("choice refused", [f"{pick.offer_id} {ledger.refused[pick.command_id]}"
                                                 for _, pick in chosen.values() if pick.command_id in ledger.refused]),
        choices_lost=count("choice lost", [f"{pick.offer_id} slot {pick.slot_id}" for call_id, (_, pick)
                                           in chosen.items() if not booked_as_chosen(call_id)]),
        calls_offered_twice=count("offered twice", [c for c in call_ids if len(ledger.offers_by_call.get(c, ())) > 1]),
        calls_booked_twice=count("booked twice", [c for c in call_ids if len(ledger.bookings.get(c, ())) > 1]),
        bookings_without_choice=count("booked unchosen", [c for c in call_ids if ledger.bookings.get(c)
                                                          and not booked_as_chosen(c)]),
        examples=examples)


def double_bookings(calls: list[Call]) -> int:
    """Live calls of one mediator that overlap, plus parties holding more than one live call."""
    by_mediator: dict[str, list[Call]] = defaultdict(list)
    by_party: dict[tuple[str, str], int] = defaultdict(int)
    for call in calls:
        if call.status in LIVE:
            by_mediator[call.mediator_id].append(call)
            by_party[(call.case_id, call.party_id)] += 1
    overlaps = 0
    for booked in by_mediator.values():
        booked.sort(key=lambda call: call.start)
        overlaps += sum(1 for earlier, later in zip(booked, booked[1:]) if later.start < earlier.end)
    return overlaps + sum(n - 1 for n in by_party.values() if n > 1)


def judge(submissions: list[Submission], poison: list[tuple[Poison, int, int]], ledger: Ledger, mailbox: Mailbox,
          letters: list[DeadLetter], backlog: dict[str, int], lag: dict[str, int], faults: int,
          seconds_to_drain: float | None, choices_resent: int = 0) -> Figures:
    missing = {s.external_ref: why for s in submissions if (why := missing_for(s, ledger, mailbox))}
    positions = {(p.record.topic, partition, offset) for p, partition, offset in poison}
    distinct = {(d.topic, d.partition, d.offset) for d in letters}
    live = [call for call in ledger.calls.values() if call.status in LIVE]
    booking = consent(ledger)
    return Figures(
        cases_submitted=len(submissions),
        cases_done=len(submissions) - len(missing),
        cases_lost=len(missing),
        calls_live=len(live),
        invitations_delivered=mailbox.invitations(),
        duplicate_alerts=len(mailbox.duplicate_alerts()),
        smtp_resends_same_message_id=mailbox.redeliveries(),
        double_bookings=double_bookings(list(ledger.calls.values())),
        offers_made=booking.offers_made,
        choices_sent=booking.choices_sent,
        choices_resent=choices_resent,
        choices_refused=booking.choices_refused,
        choices_lost=booking.choices_lost,
        calls_offered_twice=booking.calls_offered_twice,
        calls_booked_twice=booking.calls_booked_twice,
        bookings_without_choice=booking.bookings_without_choice,
        outbox_backlog=sum(backlog.values()),
        consumer_lag=sum(lag.values()),
        poison_injected=len(poison),
        dead_letters=len(letters),
        dead_letters_distinct=len(distinct),
        dead_letters_matching_poison=len(distinct & positions),
        unexpected_dead_letters=len(distinct - positions),
        scheduling_failures=len(ledger.scheduling_failures),
        faults_injected=faults,
        seconds_to_drain=seconds_to_drain,
        lost_examples=[f"{ref}: {why}" for ref, why in list(missing.items())[:10]],
        duplicate_examples=[" | ".join(key) for key in mailbox.duplicate_alerts()[:10]],
        consent_examples=booking.examples,
    )

"""Property: for any sequence of offer / choose / decline / expire / reply / cancel / time passing over several
cases and sides of one mediator, valid or not,
- no two holds or bookings of the mediator overlap, buffers included;
- every hold belongs to a live (open, current) offer, and a call with an open offer has no booking;
- every booking the model made belongs to a chosen offer (by choice, the mediator or the deadline) at that slot;
- every held or booked slot lies inside its offer's window, the mediator's hours and the party's and the attorney's
  availability (each in its own zone), after the minimum notice of when it was offered;
- a refused decision raises OfferRefused and changes nothing; every message is about one side and names its firm.
"""

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mednet_scheduling.domain import offers as model
from mednet_scheduling.domain.holds import HOLD_PREFIX, OfferStatus
from mednet_scheduling.domain.offers import MEDIATOR, SIGNED_LINK, OfferRefused
from mednet_scheduling.domain.slots import Calendar, Slot, SlotRequest, violations
from mednet_shared.contracts.events import CallCancelled, CallScheduled, CallSlotsOffered, InvitationReplied
from mednet_shared.contracts.values import DateWindow, Weekday, WeeklyWindow

from .factories import a_mediator, weekly
from .test_offers_factories import NOW, a_case, a_party_of, empty

ZONES = ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "America/Chicago", "UTC"]
CASES, PARTIES = 3, 2
MEDIATOR_HOURS = weekly("07:00", "19:00", days=tuple(Weekday))


@st.composite
def availability(draw) -> list[WeeklyWindow]:
    days = draw(st.lists(st.sampled_from(list(Weekday)), min_size=3, max_size=7, unique=True))
    windows = []
    for day in days:
        start = draw(st.integers(0, 20)) * 60 + draw(st.sampled_from([0, 15, 30, 45]))
        end = min(start + draw(st.integers(3 * 60, 14 * 60)), 23 * 60 + 45)
        windows.append(WeeklyWindow(day=day, start=time(start // 60, start % 60), end=time(end // 60, end % 60)))
    return windows


@st.composite
def a_party(draw, party_id: str, firm: str):
    party = a_party_of(party_id, firm if draw(st.booleans()) else None, zone=draw(st.sampled_from(ZONES)),
                       availability=draw(availability()))
    if party.attorney is not None and draw(st.booleans()):
        party = party.model_copy(update={"attorney": party.attorney.model_copy(update={
            "time_zone": draw(st.sampled_from(ZONES)), "availability": draw(availability())})})
    return party


@st.composite
def world(draw):
    buffer = draw(st.sampled_from([0, 15, 30]))
    mediator = a_mediator(zone=draw(st.sampled_from(ZONES)), hours=MEDIATOR_HOURS, buffer_minutes=buffer)
    cases = []
    for n in range(CASES):
        parties = [draw(a_party(f"c{n}p{k + 1}", f"firm-{n}{k}")) for k in range(PARTIES)]
        start = NOW + timedelta(days=draw(st.integers(5, 24)), hours=draw(st.integers(0, 23)))
        cases.append(a_case(case_id=f"case-{n}", parties=parties, session_start=start, mediator=mediator,
                            call_minutes=draw(st.sampled_from([30, 45, 60])),
                            minimum_notice_hours=draw(st.sampled_from([0, 24, 48])),
                            allow_weekends=draw(st.booleans()),
                            offer_slots=draw(st.integers(1, 4)),
                            offer_response_hours=draw(st.sampled_from([6, 48, 96]))))
    return cases


party_ref = st.tuples(st.integers(0, CASES - 1), st.integers(0, PARTIES - 1))
proposal = st.tuples(st.integers(-1, 13), st.integers(5, 19), st.integers(3, 24))   # day from window start, hour, x15m
choice = st.tuples(st.just("choose"), party_ref, st.sampled_from([0, 0, 1, 2, 9]), st.booleans(),
                   st.sampled_from(["own", "own", "other", "mediator", "link"]))
op = st.one_of(
    st.tuples(st.just("offer"), party_ref),
    choice,
    choice,
    choice,
    st.tuples(st.just("decline"), party_ref, st.lists(proposal, max_size=3),
              st.sampled_from([True, True, True, False])),
    st.tuples(st.just("expire")),
    st.tuples(st.just("reply"), party_ref, st.sampled_from(["DECLINED", "COUNTER", "ACCEPTED"]),
              st.sampled_from([0, 0, 0, -1, 1]),
              st.sampled_from(["party", "attorney", "party", "mediator", "stranger"]),
              st.lists(proposal, max_size=2)),
    st.tuples(st.just("cancel"), party_ref),
    st.tuples(st.just("advance"), st.integers(1, 72)),
)


class Run:
    def __init__(self, cases):
        self.cases = cases
        self.calendar, self.offers = empty()
        self.now = NOW
        self.step = 0
        self.outcomes: dict[str, int] = {}

    def side(self, ref):
        case = self.cases[ref[0]]
        return case, case.parties[ref[1]]

    def refs(self):
        return [(n, k) for n in range(CASES) for k in range(PARTIES)]

    def booked_ref(self, ref):
        """ref when its call is booked, else the first side whose call is (so replies meet bookings)."""
        def booked(one):
            case, party = self.side(one)
            return model.call_id_of(case.case_id, party.party_id) in self.calendar.calls
        return next((one for one in [ref, *self.refs()] if booked(one)), ref)

    def offered_ref(self, ref):
        def open_offer(one):
            case, party = self.side(one)
            record = self.offers.of(model.call_id_of(case.case_id, party.party_id))
            return record is not None and record.current is not None and record.current.is_open
        return next((one for one in [ref, *self.refs()] if open_offer(one)), ref)

    def cause(self) -> str:
        self.step += 1
        return f"cause-{self.step}"

    def apply(self, operation) -> None:
        kind = operation[0]
        before = (self.calendar.model_dump(), self.offers.document())
        try:
            change = getattr(self, f"do_{kind}")(*operation[1:])
        except OfferRefused as refused:
            assert refused.reasons, "a refusal names its reasons"
            assert (self.calendar.model_dump(), self.offers.document()) == before
            self.outcomes[f"{kind} refused"] = self.outcomes.get(f"{kind} refused", 0) + 1
            return
        for one in change if isinstance(change, list) else [change]:
            self.check_messages(one.messages)
            self.calendar, self.offers = one.calendar, one.offers
            for message in one.messages:
                name = type(message).__name__
                self.outcomes[name] = self.outcomes.get(name, 0) + 1
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1

    def do_offer(self, ref):
        case, party = self.side(ref)
        return model.offer(self.calendar, self.offers, case, party, self.now, self.cause())

    def do_choose(self, ref, index, old, who):
        case, party = self.side(self.offered_ref(ref))
        record = self.offers.of(model.call_id_of(case.case_id, party.party_id))
        offers = [] if record is None else [*record.past, *([record.current] if record.current else [])]
        if not offers:
            return model.choose(self.calendar, self.offers, case, party, "nothing", "nothing", self.now, self.cause(),
                                sender=MEDIATOR)
        chosen = offers[0] if old else offers[-1]
        slot_id = chosen.slots[index].slot_id if index < len(chosen.slots) else f"{chosen.offer_id}:99"
        firm = case.side_firm(party.party_id)
        sender = {"own": firm or SIGNED_LINK, "other": "firm-zz", "mediator": MEDIATOR, "link": SIGNED_LINK}[who]
        return model.choose(self.calendar, self.offers, case, party, chosen.offer_id, slot_id, self.now, self.cause(),
                            sender=sender)

    def windows(self, case, proposals):
        start, _ = model.offer_window(case, self.offers, self.now)
        base = start.replace(hour=0, minute=0)
        return [DateWindow(start=base + timedelta(days=day, hours=hour),
                           end=base + timedelta(days=day, hours=hour, minutes=15 * length))
                for day, hour, length in proposals]

    def do_decline(self, ref, proposals, current):
        case, party = self.side(self.offered_ref(ref))
        record = self.offers.of(model.call_id_of(case.case_id, party.party_id))
        offer_id = record.current.offer_id if record and record.current and current else "case-x:p:offer-1"
        return model.decline(self.calendar, self.offers, case, party, offer_id, self.windows(case, proposals),
                             self.now, self.cause(), sender=case.side_firm(party.party_id) or SIGNED_LINK)

    def do_expire(self):
        changes = []
        for due in self.offers.due(self.now):
            case = next(case for case in self.cases if case.case_id == due.case_id)
            party = case.party(due.party_id)
            change = model.expire(self.calendar, self.offers, case, party, self.now)
            changes.append(change)
            self.check_messages(change.messages)
            self.calendar, self.offers = change.calendar, change.offers
        return changes[-1:] if changes else []

    def do_reply(self, ref, partstat, delta, who, proposals):
        case, party = self.side(self.booked_ref(ref))
        call_id = model.call_id_of(case.case_id, party.party_id)
        booked = self.calendar.calls.get(call_id)
        email = {"party": party.contact.email, "attorney": party.attorney.email if party.attorney else "x@y.example",
                 "mediator": case.mediator.email, "stranger": "someone@else.example"}[who]
        replied = InvitationReplied(case_id=case.case_id, call_id=call_id, party_id=party.party_id,
                                    sequence=max(0, (booked.sequence if booked else 0) + delta), attendee_email=email,
                                    partstat=partstat, proposed=self.windows(case, proposals), received_at=self.now)
        return model.reply(self.calendar, self.offers, case, party, replied, self.now, self.cause())

    def do_cancel(self, ref):
        """The mediator cancels the call (calls.cancel removes the booking) and any open offer is withdrawn."""
        case, party = self.side(ref)
        call_id = model.call_id_of(case.case_id, party.party_id)
        calls = {key: value for key, value in self.calendar.calls.items() if key != call_id}
        calendar = self.calendar.model_copy(update={"calls": calls})
        return model.withdraw(calendar, self.offers, call_id, self.now, self.cause())

    def do_advance(self, hours):
        self.now += timedelta(hours=hours)
        return []

    # -- the invariants ----------------------------------------------------------------------------------------

    def check_messages(self, messages) -> None:
        for message in messages:
            case = next(case for case in self.cases if case.case_id == message.case_id)
            party = case.party(message.party_id)
            assert message.call_id == model.call_id_of(case.case_id, party.party_id)
            if isinstance(message, (CallSlotsOffered, CallScheduled, CallCancelled)):
                assert message.side_firm_id == case.side_firm(party.party_id)
                emails = {a.email for a in message.attendees}
                others = {p.contact.email for c in self.cases for p in c.parties if p is not party}
                assert not emails & others, "a side's message names only its own people"

    def check(self) -> None:
        buffer = timedelta(minutes=self.cases[0].mediator.buffer_minutes)
        taken = [(b.start, b.end, b.call_id) for b in self.calendar.calls.values()]
        taken += [(h.start, h.end, h.call_id) for h in self.offers.holds()]
        taken.sort()
        for (_, end, one), (start, _, other) in zip(taken, taken[1:]):
            assert end + buffer <= start, f"{one} and {other} overlap with the buffer"
        open_ids = {offer.offer_id for offer in self.offers.open_offers()}
        for record in self.offers.calls.values():
            assert all(not offer.is_open for offer in record.past)
            if record.current and record.current.is_open:
                assert record.call_id not in self.calendar.calls, "a call with an open offer has no booking"
                self.check_slots(record.current, record.current.slots)
        assert {h.call_id.removeprefix(HOLD_PREFIX).rpartition(":")[0] for h in self.offers.holds()} <= open_ids
        for call_id, booked in self.calendar.calls.items():
            record = self.offers.of(call_id)
            assert record is not None and record.current is not None
            offer = record.current
            assert offer.status is OfferStatus.CHOSEN and offer.booked_by in ("choice", "mediator", "deadline")
            slot = offer.slot(offer.chosen_slot_id)
            assert (slot.start, slot.end) == (booked.start, booked.end)
            self.check_slots(offer, [slot])

    def check_slots(self, offer, slots) -> None:
        case = next(case for case in self.cases if case.case_id == offer.case_id)
        party = case.party(offer.party_id)
        request = SlotRequest(call_id=offer.call_id, mediator=case.mediator, party=party, session=case.session,
                              policy=case.policy, now=offer.made_at, not_after=offer.window_end)
        people = [(case.mediator.time_zone, case.mediator.working_hours), (party.time_zone, party.availability)]
        if party.attorney is not None and party.attorney.availability:
            people.append((party.attorney.time_zone or party.time_zone, party.attorney.availability))
        for slot in slots:
            assert offer.window_start <= slot.start and slot.end <= offer.window_end
            assert offer.made_at + timedelta(hours=case.policy.minimum_notice_hours) <= slot.start
            assert violations(request, Calendar(), Slot(slot.start, slot.end)) == []
            for zone, windows in people:
                assert inside(slot, zone, windows, case.policy.allow_weekends), f"{slot} outside hours in {zone}"


def inside(slot, zone, windows, weekends) -> bool:
    """An oracle independent of slots.py: the slot's local start and end lie in one weekly window of that zone."""
    start, end = slot.start.astimezone(ZoneInfo(zone)), slot.end.astimezone(ZoneInfo(zone))
    weekday = list(Weekday)[start.weekday()]
    if start.date() != end.date() or (not weekends and start.weekday() >= 5):
        return False
    return any(window.day == weekday and window.start <= start.time() and end.time() <= window.end
               for window in windows)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases=world(), operations=st.lists(op, min_size=1, max_size=30))
def test_any_sequence_of_decisions_keeps_every_invariant(cases, operations):
    run = Run(cases)
    for operation in [("offer", (n, k)) for n in range(CASES) for k in range(PARTIES)] + operations:
        run.apply(operation)
        run.check()
    for outcome in run.outcomes:
        event(outcome)
    event(f"bookings: {min(len(run.calendar.calls), 3)}+, holds: {min(len(run.offers.holds()), 6)}+")


def test_a_long_busy_run_books_and_offers_without_overlaps():
    """A deterministic stress: every side of many cases offered, half chosen, the rest left to the deadline."""
    mediator = a_mediator(hours=weekly("09:00", "17:00"), buffer_minutes=15)
    cases = [a_case(case_id=f"case-{n}", parties=[a_party_of(f"c{n}p1", "firm-a"), a_party_of(f"c{n}p2", "firm-b")],
                    mediator=mediator, session_start=NOW + timedelta(days=20, hours=n)) for n in range(8)]
    run = Run(cases)
    for n in range(8):
        for k in range(2):
            run.apply(("offer", (n, k)))
            run.check()
    offered = run.outcomes["offer"]
    assert offered == 16 and len(run.offers.holds()) == 48
    for n in range(0, 8, 2):
        run.apply(("choose", (n, 0), 1, False, "own"))
        run.check()
    run.apply(("advance", 49))
    run.apply(("expire",))
    run.check()
    assert len(run.calendar.calls) == 16 and run.offers.holds() == []
    booked_by = sorted(model.booked_by(run.offers, call_id) for call_id in run.calendar.calls)
    assert booked_by == ["choice"] * 4 + ["deadline"] * 12

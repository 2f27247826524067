"""Any sequence of the mediator's and the firms' actions on a case's calls, run through the pure lifecycle as the
use cases run it (a calendar change mirrored into the case): the case's view of each call never disagrees with the
call's last event on status or sequence, no two bookings overlap, completed and waived are final, and the
pre-mediation completes at most once."""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mednet_scheduling.domain import calls
from mednet_scheduling.domain.calls import CallNotFound, CallStateError, Placement
from mednet_scheduling.domain.places import Conferencing, Secrets
from mednet_scheduling.domain.state import CalendarState, CallStatus
from mednet_shared.contracts.events import (
    CallCancelled,
    CallCompleted,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CallWaived,
    PreMediationCompleted,
    SchedulingFailed,
)
from mednet_shared.contracts.values import PlaceKind

from .test_sides_and_powers import NOW, facts

STATUS_OF = {CallScheduled: CallStatus.SCHEDULED, CallRescheduled: CallStatus.SCHEDULED,
             CallCancelled: CallStatus.CANCELLED, CallCompleted: CallStatus.COMPLETED, CallWaived: CallStatus.WAIVED}
ACTIONS = ("reschedule", "cancel", "place_again", "miss", "complete", "waive", "later")


class Run:
    def __init__(self) -> None:
        self.case = facts()
        numbers = iter(range(10 ** 6))
        self.draw = lambda: Secrets(room=f"room-{next(numbers)}", pin=f"{next(numbers):06d}")
        profile = Conferencing(kind=PlaceKind.VIDEO, url_template="https://meet.example.org/{room}")
        change = calls.place(CalendarState(mediator_id="med-1", conferencing=profile), self.case, self.case.parties,
                             NOW, "open", draw=self.draw)
        self.calendar, self.state, self.now = change.calendar, calls.opened(self.case, change), NOW
        self.events = list(change.messages)
        self.step = 0

    def on_calendar(self, change) -> None:
        self.calendar = change.calendar
        self.events += change.messages
        for party_id in change.booked:
            call = calls.mirror(self.state.calls.get(party_id), self.case, party_id, change)
            self.state = calls.with_call(self.state, call) if call else self.state

    def on_case(self, outcome) -> None:
        self.state, messages = outcome
        self.events += messages

    def act(self, action: str, index: int, hours: int) -> None:
        self.step += 1
        party, cause = self.case.parties[index], f"cause-{self.step}"
        call = self.state.calls.get(party.party_id)
        scheduled = call is not None and call.status is CallStatus.SCHEDULED
        try:
            if action == "later":
                self.now += timedelta(hours=hours)
            elif action == "reschedule" and scheduled:
                self.on_calendar(calls.place(self.calendar, self.case, [party], self.now, cause,
                                             Placement.RESCHEDULE, draw=self.draw))
            elif action == "cancel" and scheduled:
                self.on_calendar(calls.cancel(self.calendar, self.case, party, cause, "x"))
            elif action == "place_again":
                after = calls.ensure_placeable_again(self.state, party.party_id)
                self.on_calendar(calls.place(self.calendar, self.case, [party], self.now, cause, draw=self.draw,
                                             after={party.party_id: after}))
            elif action == "miss":
                self.on_calendar(calls.miss(self.calendar, self.case, party, self.now, cause, call))
            elif action == "complete":
                self.on_case(calls.complete(self.state, party.party_id, self.now))
            elif action == "waive":
                if scheduled:
                    self.on_calendar(calls.cancel(self.calendar, self.case, party, cause, "waived"))
                self.on_case(calls.waive(self.state, party.party_id, "not needed", self.now))
        except (CallStateError, CallNotFound):
            pass  # refused: nothing changed

    def check(self, before: dict) -> None:
        last: dict[str, tuple[CallStatus, int | None]] = {}
        for message in self.events:
            if type(message) in STATUS_OF:
                last[message.party_id] = (STATUS_OF[type(message)], message.sequence)
            elif isinstance(message, CallMissed):
                last[message.party_id] = (CallStatus.SCHEDULED, message.sequence)
            elif isinstance(message, SchedulingFailed):
                last[message.party_id] = (CallStatus.FAILED, last.get(message.party_id, (None, None))[1])
        for party_id, call in self.state.calls.items():
            assert (call.status, call.sequence) == last[party_id], (party_id, call, last[party_id])
            if before.get(party_id) in (CallStatus.COMPLETED, CallStatus.WAIVED):
                assert call.status is before[party_id], "completed and waived are final"
            booked = self.calendar.calls.get(call.call_id)
            if call.status is CallStatus.SCHEDULED:
                assert booked is not None and (booked.start, booked.sequence) == (call.start, call.sequence)
                assert booked.place is not None and booked.place == call.place
        bookings = sorted(self.calendar.calls.values(), key=lambda b: b.start)
        assert all(a.end + timedelta(minutes=15) <= b.start for a, b in zip(bookings, bookings[1:]))
        rooms = [b.place.url for b in bookings]
        assert len(rooms) == len(set(rooms)), "never the same room for two calls"
        assert sum(isinstance(m, PreMediationCompleted) for m in self.events) <= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 2), st.integers(1, 72)), max_size=25))
def test_every_sequence_of_actions_keeps_the_view_and_the_events_in_agreement(steps):
    run = Run()
    run.check({})
    for action, index, hours in steps:
        before = {party_id: call.status for party_id, call in run.state.calls.items()}
        run.act(action, index, hours)
        run.check(before)

"""The consent-booking model: offers hold slots, the side chooses, declines with proposals or lets the deadline
book for it; an iTIP DECLINED or COUNTER makes a new offer. Pure: (calendar, offers, case, now) in, new state and
messages out; every refusal names every reason and changes nothing."""

from datetime import timedelta

import pytest

from mednet_scheduling.domain import offers as model
from mednet_scheduling.domain.holds import OfferBook, OfferDefaults, OfferStatus
from mednet_scheduling.domain.offers import (
    MEDIATOR,
    SIGNED_LINK,
    ForeignOffer,
    NoSlotInProposals,
    OfferExpired,
    OfferNotCurrent,
    ProposalOutsideWindow,
    SideNotConfirmed,
    SlotNotOffered,
    UnknownAttendee,
    UnknownCall,
    UnknownOffer,
    UnknownSequence,
)
from mednet_scheduling.domain.slots import Calendar, find_slot
from mednet_scheduling.domain.state import CalendarState
from mednet_shared.contracts.events import (
    CallCancelled,
    CallScheduled,
    CallSlotsOffered,
    InvitationReplied,
    SchedulingFailed,
)
from mednet_shared.contracts.values import DateWindow, Place, PlaceKind, SideStatus

from .factories import a_mediator, utc, weekly
from .test_offers_factories import NOW, SESSION_START, WINDOW_END, WINDOW_START, a_case, a_party_of, empty

MON, TUE, WED = utc(2026, 2, 16, 14), utc(2026, 2, 17, 9), utc(2026, 2, 18, 9)
VIDEO = Place(kind=PlaceKind.VIDEO, url="https://meet.example/r/abc", text="Video: https://meet.example/r/abc")


def offered(case=None, party_index=0, calendar=None, offers=None, now=NOW, cause="evt-open"):
    case = case or a_case()
    if calendar is None:
        calendar, offers = empty()
    change = model.offer(calendar, offers, case, case.parties[party_index], now, cause)
    return case, change


def the_offer(change) -> CallSlotsOffered:
    (message,) = [m for m in change.messages if isinstance(m, CallSlotsOffered)]
    return message


def window(start, end) -> DateWindow:
    return DateWindow(start=start, end=end)


# -- offering --------------------------------------------------------------------------------------------------


def test_an_offer_holds_three_slots_on_three_days_inside_the_window_and_tells_only_that_side():
    case, change = offered()
    message = the_offer(change)
    assert [slot.start for slot in message.slots] == [MON, TUE, WED]
    assert all(slot.end - slot.start == timedelta(minutes=45) for slot in message.slots)
    assert message.offer_id == "case-1:p1:offer-1"
    assert [slot.slot_id for slot in message.slots] == [f"case-1:p1:offer-1:{n}" for n in (1, 2, 3)]
    assert message.side_firm_id == "firm-a" and message.sequence == 0
    assert message.expires_at == NOW + timedelta(hours=48)
    assert {a.email for a in message.attendees} == {"p1@people.example", "counsel-p1@firm-a.example",
                                                    "mia@example.org"}
    assert [(h.start, h.end) for h in change.offers.holds()] == [(s.start, s.end) for s in message.slots]
    assert change.calendar.calls == {}, "an offer books nothing"


def test_ids_are_the_same_when_the_offer_is_made_again_from_scratch():
    _, first = offered()
    _, again = offered(cause="another-delivery")
    assert the_offer(first) == the_offer(again)


def test_a_cause_seen_again_or_an_open_offer_changes_nothing():
    case, change = offered()
    again = model.offer(change.calendar, change.offers, case, case.parties[0], NOW, "evt-open")
    assert not again.changed and again.messages == () and again.offers is change.offers
    other = model.offer(change.calendar, change.offers, case, case.parties[0], NOW, "evt-later")
    assert not other.changed and other.messages == ()


@pytest.mark.parametrize("status", [SideStatus.AWAITING_CONFIRMATION, SideStatus.DECLINED])
def test_no_offer_for_a_side_that_is_not_confirmed(status):
    case = a_case(statuses={"p2": status})
    calendar, offers = empty()
    with pytest.raises(SideNotConfirmed) as refused:
        model.offer(calendar, offers, case, case.parties[1], NOW, "evt")
    assert refused.value.reasons[0].field == "party_id" and refused.value.status == 409


def test_a_party_missing_from_the_sides_is_not_confirmed():
    case = a_case()
    case = case.model_copy(update={"sides": case.sides[:1]})
    calendar, offers = empty()
    with pytest.raises(SideNotConfirmed):
        model.offer(calendar, offers, case, case.parties[1], NOW, "evt")


def test_a_case_from_before_sides_counts_every_side_confirmed():
    case = a_case().model_copy(update={"sides": []})
    calendar, offers = empty()
    assert the_offer(model.offer(calendar, offers, case, case.parties[1], NOW, "evt")).side_firm_id == "firm-b"


def test_held_slots_block_the_other_side_s_offer_buffers_included():
    case, first = offered()
    second = model.offer(first.calendar, first.offers, case, case.parties[1], NOW, "evt-open-2")
    starts = [slot.start for slot in the_offer(second).slots]
    assert starts == [MON + timedelta(minutes=60), TUE + timedelta(minutes=60), WED + timedelta(minutes=60)]
    assert len(second.offers.holds()) == 6


def test_holds_block_a_booking_searched_against_the_blocking_calendar():
    case, change = offered(a_case(offer_window_start_days=14))
    blocked = model.blocking(change.calendar, change.offers)
    assert len(blocked) == 3
    from .factories import a_request
    request = a_request(MON, SESSION_START, call_id="other:call")
    assert find_slot(request, Calendar()).start == MON
    assert find_slot(request, blocked).start == MON + timedelta(minutes=60)


def test_the_window_comes_from_the_policy_else_the_mediator_else_14_and_2_days():
    case = a_case()
    assert model.offer_window(case, OfferBook(), NOW) == (WINDOW_START, WINDOW_END)
    mediators = OfferBook(defaults=OfferDefaults(window_start_days=10, window_end_days=3))
    assert model.offer_window(case, mediators, NOW) == (SESSION_START - timedelta(days=10),
                                                        SESSION_START - timedelta(days=3))
    own = a_case(offer_window_start_days=7, offer_window_end_days=0)
    assert model.offer_window(own, mediators, NOW) == (SESSION_START - timedelta(days=7), SESSION_START)


def test_the_window_never_starts_before_the_minimum_notice():
    late = SESSION_START - timedelta(days=5)
    start, end = model.offer_window(a_case(minimum_notice_hours=48), OfferBook(), late)
    assert start == late + timedelta(hours=48) and end == WINDOW_END


def test_a_session_too_close_fails_with_the_reason_and_holds_nothing():
    case = a_case()
    calendar, offers = empty()
    change = model.offer(calendar, offers, case, case.parties[0], SESSION_START - timedelta(days=2), "evt")
    (failed,) = change.messages
    assert isinstance(failed, SchedulingFailed) and "offer window" in failed.reason
    assert failed.side_firm_id == "firm-a" and change.offers.holds() == []


def test_the_deadline_is_never_later_than_the_first_slot_minus_the_notice():
    late = WINDOW_START - timedelta(hours=30)
    case, change = offered(now=late)
    message = the_offer(change)
    assert message.expires_at == message.slots[0].start - timedelta(hours=24) < late + timedelta(hours=48)


def test_an_offer_fits_the_attorney_s_own_zone_and_hours():
    chicago = a_party_of("p1", "firm-a")
    chicago = chicago.model_copy(update={"attorney": chicago.attorney.model_copy(update={
        "time_zone": "America/Chicago", "availability": weekly("09:00", "12:00")})})
    case, change = offered(a_case(parties=[chicago, a_party_of("p2", "firm-b")]))
    for slot in the_offer(change).slots:
        assert slot.start.hour >= 15 and slot.end <= slot.start.replace(hour=17)   # 09:00-12:00 Chicago = 15-18 UTC


def test_slots_respect_a_weekend_and_fill_in_when_the_window_has_fewer_days():
    case, change = offered(a_case(offer_window_start_days=3, offer_window_end_days=1))   # Fri 27 to Sun 1 Mar
    starts = [slot.start for slot in the_offer(change).slots]
    assert starts == [utc(2026, 2, 27, 14), utc(2026, 2, 27, 15), utc(2026, 2, 27, 16)]


# -- choosing ------------------------------------------------------------------------------------------------------


def test_choosing_books_that_slot_releases_the_others_and_says_it_was_the_side_s_choice():
    case, change = offered()
    offer = the_offer(change)
    chosen = model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id,
                          offer.slots[1].slot_id, NOW + timedelta(hours=1), "cmd-1", sender="firm-a", place=VIDEO)
    (scheduled,) = chosen.messages
    assert isinstance(scheduled, CallScheduled) and scheduled.booked_by == "choice"
    assert (scheduled.start, scheduled.sequence, scheduled.side_firm_id) == (TUE, 0, "firm-a")
    assert scheduled.place == VIDEO
    assert chosen.offers.holds() == []
    booked = chosen.calendar.calls["case-1:p1"]
    assert (booked.start, booked.end, booked.cause) == (TUE, TUE + timedelta(minutes=45), "cmd-1")
    record = chosen.offers.of("case-1:p1")
    assert record.current.status is OfferStatus.CHOSEN and record.current.booked_by == "choice"
    assert model.booked_by(chosen.offers, "case-1:p1") == "choice"


def test_a_choice_delivered_again_changes_nothing():
    case, change = offered()
    offer = the_offer(change)
    chosen = model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id,
                          offer.slots[0].slot_id, NOW, "cmd-1", sender="firm-a")
    again = model.choose(chosen.calendar, chosen.offers, case, case.parties[0], offer.offer_id,
                         offer.slots[0].slot_id, NOW, "cmd-1", sender="firm-a")
    assert not again.changed and again.messages == ()


def test_released_slots_can_be_offered_to_the_other_side():
    case, change = offered()
    offer = the_offer(change)
    chosen = model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id,
                          offer.slots[2].slot_id, NOW, "cmd-1", sender="firm-a")
    second = model.offer(chosen.calendar, chosen.offers, case, case.parties[1], NOW, "evt-2")
    assert [slot.start for slot in the_offer(second).slots] == [MON, TUE, WED + timedelta(minutes=60)]


def test_the_mediator_and_the_signed_link_may_choose_and_it_says_who():
    case, change = offered()
    offer = the_offer(change)
    by_mediator = model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id,
                               offer.slots[0].slot_id, NOW, "http-1", sender=MEDIATOR)
    assert by_mediator.messages[0].booked_by == "mediator"
    by_link = model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id,
                           offer.slots[0].slot_id, NOW, "link-1", sender=SIGNED_LINK)
    assert by_link.messages[0].booked_by == "choice"


def test_a_slot_not_in_the_offer_is_refused_and_changes_nothing():
    case, change = offered()
    offer = the_offer(change)
    before = change.offers.document()
    with pytest.raises(SlotNotOffered) as refused:
        model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id, "case-1:p1:offer-1:9",
                     NOW, "cmd-1", sender="firm-a")
    assert refused.value.reasons[0].field == "slot_id" and "not one of" in refused.value.reasons[0].message
    assert change.offers.document() == before


def test_another_firm_cannot_answer_a_side_s_offer():
    case, change = offered()
    offer = the_offer(change)
    with pytest.raises(ForeignOffer) as refused:
        model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id, offer.slots[0].slot_id,
                     NOW, "cmd-1", sender="firm-b")
    assert refused.value.status == 403
    with pytest.raises(ForeignOffer):
        model.decline(change.calendar, change.offers, case, case.parties[0], offer.offer_id, [], NOW, "cmd-2",
                      sender="firm-b")


def test_an_unrepresented_side_s_offer_is_answered_by_the_mediator_or_the_link_only():
    parties = [a_party_of("p1", "firm-a"), a_party_of("p2", None)]
    case, change = offered(a_case(parties=parties), party_index=1)
    offer = the_offer(change)
    assert offer.side_firm_id is None
    for firm in ("firm-a", "firm-b"):
        with pytest.raises(ForeignOffer):
            model.choose(change.calendar, change.offers, case, case.parties[1], offer.offer_id,
                         offer.slots[0].slot_id, NOW, "cmd", sender=firm)
    assert model.choose(change.calendar, change.offers, case, case.parties[1], offer.offer_id,
                        offer.slots[0].slot_id, NOW, "cmd", sender=SIGNED_LINK).changed


def test_another_side_s_offer_named_for_this_side_is_foreign():
    case, first = offered()
    second = model.offer(first.calendar, first.offers, case, case.parties[1], NOW, "evt-2")
    theirs = the_offer(second)
    with pytest.raises(ForeignOffer) as refused:
        model.choose(second.calendar, second.offers, case, case.parties[0], theirs.offer_id,
                     theirs.slots[0].slot_id, NOW, "cmd", sender="firm-a")
    assert "not for party p1" in str(refused.value)


def test_an_unknown_offer_is_refused():
    case, change = offered()
    with pytest.raises(UnknownOffer) as refused:
        model.choose(change.calendar, change.offers, case, case.parties[0], "case-1:p1:offer-7", "x", NOW, "cmd",
                     sender="firm-a")
    assert refused.value.status == 404
    calendar, offers = empty()
    with pytest.raises(UnknownOffer):
        model.choose(calendar, offers, case, case.parties[0], "case-1:p1:offer-1", "x", NOW, "cmd", sender="firm-a")


def test_an_expired_offer_is_refused_though_the_deadline_has_not_run_yet():
    case, change = offered()
    offer = the_offer(change)
    with pytest.raises(OfferExpired) as refused:
        model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id, offer.slots[0].slot_id,
                     offer.expires_at, "cmd", sender="firm-a")
    assert refused.value.status == 410


def test_an_older_offer_is_not_current():
    case, change = offered()
    old = the_offer(change)
    declined = model.decline(change.calendar, change.offers, case, case.parties[0], old.offer_id, [], NOW, "cmd-1",
                             sender="firm-a")
    assert the_offer(declined).offer_id == "case-1:p1:offer-2"
    with pytest.raises(OfferNotCurrent) as refused:
        model.choose(declined.calendar, declined.offers, case, case.parties[0], old.offer_id, old.slots[0].slot_id,
                     NOW, "cmd-2", sender="firm-a")
    assert "not the current offer (the current one is case-1:p1:offer-2)" in str(refused.value)


def test_a_side_no_longer_confirmed_cannot_choose():
    case, change = offered()
    offer = the_offer(change)
    unconfirmed = a_case(statuses={"p1": SideStatus.DECLINED})
    with pytest.raises(SideNotConfirmed):
        model.choose(change.calendar, change.offers, unconfirmed, unconfirmed.parties[0], offer.offer_id,
                     offer.slots[0].slot_id, NOW, "cmd", sender=MEDIATOR)


# -- declining ------------------------------------------------------------------------------------------------


def test_declining_with_proposals_makes_a_new_offer_inside_them():
    case, change = offered()
    offer = the_offer(change)
    proposals = [window(utc(2026, 2, 23, 13), utc(2026, 2, 23, 15)), window(utc(2026, 2, 25, 10), utc(2026, 2, 25, 11))]
    declined = model.decline(change.calendar, change.offers, case, case.parties[0], offer.offer_id, proposals,
                             NOW + timedelta(hours=2), "cmd-1", sender="firm-a")
    new = the_offer(declined)
    assert [slot.start for slot in new.slots] == [utc(2026, 2, 23, 13), utc(2026, 2, 23, 14), utc(2026, 2, 25, 10)]
    assert new.expires_at == NOW + timedelta(hours=50) and new.sequence == 0
    record = declined.offers.of("case-1:p1")
    assert record.past[-1].status is OfferStatus.DECLINED
    assert sorted(h.start for h in declined.offers.holds()) == sorted(s.start for s in new.slots)


def test_declining_without_proposals_never_offers_the_declined_slots_again():
    case, change = offered()
    offer = the_offer(change)
    declined = model.decline(change.calendar, change.offers, case, case.parties[0], offer.offer_id, [], NOW, "cmd-1",
                             sender="firm-a")
    starts = [slot.start for slot in the_offer(declined).slots]
    assert not set(starts) & {MON, TUE, WED}
    assert starts == [utc(2026, 2, 16, 14, 45), utc(2026, 2, 17, 9, 45), utc(2026, 2, 18, 9, 45)]


def test_every_proposal_outside_the_window_is_named_and_nothing_changes():
    case, change = offered()
    offer = the_offer(change)
    bad = [window(utc(2026, 2, 2, 9), utc(2026, 2, 2, 12)),      # before the window
           window(utc(2026, 2, 23, 9), utc(2026, 2, 23, 12)),    # fine
           window(utc(2026, 3, 1, 9), utc(2026, 3, 1, 12)),      # after it
           window(utc(2026, 2, 24, 12), utc(2026, 2, 24, 9))]    # ends before it starts
    with pytest.raises(ProposalOutsideWindow) as refused:
        model.decline(change.calendar, change.offers, case, case.parties[0], offer.offer_id, bad, NOW, "cmd-1",
                      sender="firm-a")
    assert [reason.field for reason in refused.value.reasons] == ["proposals.0", "proposals.2", "proposals.3"]
    assert "outside the offer window" in refused.value.reasons[0].message
    assert change.offers.of("case-1:p1").current.is_open


def test_proposals_where_nothing_fits_are_refused_and_the_offer_stays():
    case, change = offered()
    offer = the_offer(change)
    saturday = [window(utc(2026, 2, 21, 9), utc(2026, 2, 21, 17))]
    with pytest.raises(NoSlotInProposals) as refused:
        model.decline(change.calendar, change.offers, case, case.parties[0], offer.offer_id, saturday, NOW, "cmd-1",
                      sender="firm-a")
    assert "proposed windows" in str(refused.value)


def test_declining_when_nothing_else_fits_fails_for_the_mediator_and_holds_nothing():
    case, change = offered(a_case(offer_window_start_days=3, offer_window_end_days=2,
                                  call_minutes=120))   # Fri 27 Feb 14:00 - Sat 28: room for one 2-hour call
    offer = the_offer(change)
    assert len(offer.slots) == 1
    declined = model.decline(change.calendar, change.offers, case, case.parties[0], offer.offer_id, [], NOW, "cmd",
                             sender="firm-a")
    (failed,) = declined.messages
    assert isinstance(failed, SchedulingFailed) and failed.call_id == "case-1:p1"
    assert declined.offers.holds() == []


# -- the deadline ------------------------------------------------------------------------------------------------


def test_without_an_answer_the_first_slot_is_booked_at_the_deadline_and_the_side_is_told():
    case, change = offered()
    offer = the_offer(change)
    assert model.expire(change.calendar, change.offers, case, case.parties[0],
                        offer.expires_at - timedelta(seconds=1)).changed is False
    assert change.offers.due(offer.expires_at) == [change.offers.of("case-1:p1").current]
    expired = model.expire(change.calendar, change.offers, case, case.parties[0], offer.expires_at, place=VIDEO)
    (scheduled,) = expired.messages
    assert isinstance(scheduled, CallScheduled) and scheduled.booked_by == "deadline"
    assert scheduled.start == MON and scheduled.side_firm_id == "firm-a" and scheduled.place == VIDEO
    assert expired.offers.holds() == [] and expired.offers.due(offer.expires_at) == []
    again = model.expire(expired.calendar, expired.offers, case, case.parties[0], offer.expires_at)
    assert not again.changed


def test_a_late_deadline_books_the_first_slot_still_ahead_or_fails():
    case, change = offered()
    offer = the_offer(change)
    late = model.expire(change.calendar, change.offers, case, case.parties[0], MON - timedelta(hours=23))
    assert late.messages[0].start == TUE
    too_late = model.expire(change.calendar, change.offers, case, case.parties[0], WED)
    (failed,) = too_late.messages
    assert isinstance(failed, SchedulingFailed) and offer.offer_id in failed.reason
    assert too_late.offers.of("case-1:p1").current.status is OfferStatus.EXPIRED and too_late.offers.holds() == []


def test_the_deadline_of_a_side_no_longer_confirmed_only_releases():
    case, change = offered()
    offer = the_offer(change)
    gone = a_case(statuses={"p1": SideStatus.DECLINED})
    expired = model.expire(change.calendar, change.offers, gone, gone.parties[0], offer.expires_at)
    assert expired.messages == () and expired.changed and expired.offers.holds() == []


# -- iTIP replies -------------------------------------------------------------------------------------------------


def booked(case=None, slot=1):
    case, change = offered(case)
    offer = the_offer(change)
    chosen = model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id,
                          offer.slots[slot].slot_id, NOW, "cmd-choose", sender="firm-a", place=VIDEO)
    return case, chosen


def replied(partstat, sequence=0, email="counsel-p1@firm-a.example", call_id="case-1:p1", proposed=()):
    return InvitationReplied(case_id="case-1", call_id=call_id, party_id=call_id.rpartition(":")[2],
                             sequence=sequence, attendee_email=email, partstat=partstat, proposed=list(proposed),
                             received_at=NOW)


def test_a_declined_invitation_cancels_the_booking_and_makes_a_new_offer():
    case, chosen = booked()
    change = model.reply(chosen.calendar, chosen.offers, case, case.parties[0], replied("DECLINED"), NOW, "reply-1")
    cancelled, new = change.messages
    assert isinstance(cancelled, CallCancelled) and cancelled.sequence == 1 and cancelled.start == TUE
    assert cancelled.side_firm_id == "firm-a" and cancelled.place == VIDEO
    assert "counsel-p1@firm-a.example declined" in cancelled.reason
    assert isinstance(new, CallSlotsOffered) and new.offer_id == "case-1:p1:offer-2" and new.sequence == 1
    assert TUE not in [slot.start for slot in new.slots]
    assert "case-1:p1" not in change.calendar.calls
    rebooked = model.choose(change.calendar, change.offers, case, case.parties[0], new.offer_id,
                            new.slots[0].slot_id, NOW, "cmd-2", sender="firm-a")
    (scheduled,) = rebooked.messages
    assert scheduled.sequence == 2 and scheduled.place == VIDEO, "the call goes on with its sequence and its place"
    again = model.reply(chosen.calendar, change.offers, case, case.parties[0], replied("DECLINED"), NOW, "reply-1")
    assert not again.changed


def test_a_counter_makes_the_new_offer_inside_its_proposed_windows():
    case, chosen = booked()
    proposed = [window(utc(2026, 2, 26, 11), utc(2026, 2, 26, 12))]
    change = model.reply(chosen.calendar, chosen.offers, case, case.parties[0],
                         replied("COUNTER", email="p1@people.example", proposed=proposed), NOW, "reply-1")
    new = change.messages[1]
    assert [slot.start for slot in new.slots] == [utc(2026, 2, 26, 11)]


def test_a_counter_outside_the_window_is_refused_and_the_booking_stays():
    case, chosen = booked()
    proposed = [window(utc(2026, 3, 5, 11), utc(2026, 3, 5, 12))]
    with pytest.raises(ProposalOutsideWindow) as refused:
        model.reply(chosen.calendar, chosen.offers, case, case.parties[0], replied("COUNTER", proposed=proposed),
                    NOW, "reply-1")
    assert refused.value.reasons[0].field == "proposed.0"


@pytest.mark.parametrize("partstat", ["ACCEPTED", "TENTATIVE"])
def test_an_accepting_reply_changes_nothing(partstat):
    case, chosen = booked()
    change = model.reply(chosen.calendar, chosen.offers, case, case.parties[0], replied(partstat), NOW, "reply-1")
    assert not change.changed and change.messages == ()


def test_a_reply_to_an_unknown_call_sequence_or_attendee_is_refused():
    case, chosen = booked()
    party = case.parties[0]
    with pytest.raises(UnknownCall):
        model.reply(chosen.calendar, chosen.offers, case, party, replied("DECLINED", call_id="case-1:p9"), NOW, "r")
    with pytest.raises(UnknownCall):
        model.reply(chosen.calendar, chosen.offers, case, case.parties[1],
                    replied("DECLINED", call_id="case-1:p2", email="p2@people.example"), NOW, "r")
    with pytest.raises(UnknownSequence) as stale:
        model.reply(chosen.calendar, chosen.offers, case, party, replied("DECLINED", sequence=3), NOW, "r")
    assert stale.value.reasons[0].field == "sequence"
    for stranger in ("someone@else.example", "mia@example.org", "counsel-p2@firm-b.example"):
        with pytest.raises(UnknownAttendee):
            model.reply(chosen.calendar, chosen.offers, case, party, replied("DECLINED", email=stranger), NOW, "r")


def test_an_attendee_email_matches_whatever_its_case():
    case, chosen = booked()
    change = model.reply(chosen.calendar, chosen.offers, case, case.parties[0],
                         replied("DECLINED", email="Counsel-P1@Firm-A.example"), NOW, "reply-1")
    assert change.changed


# -- withdrawal and storage --------------------------------------------------------------------------------------


def test_withdrawing_releases_the_holds_and_the_links_stop_working():
    case, change = offered()
    offer = the_offer(change)
    gone = model.withdraw(change.calendar, change.offers, "case-1:p1", NOW, "withdrawn-1")
    assert gone.changed and gone.messages == () and gone.offers.holds() == []
    assert gone.offers.of("case-1:p1").current.status is OfferStatus.WITHDRAWN
    with pytest.raises(OfferNotCurrent):
        model.choose(gone.calendar, gone.offers, case, case.parties[0], offer.offer_id, offer.slots[0].slot_id, NOW,
                     "cmd", sender="firm-a")
    assert not model.withdraw(gone.calendar, gone.offers, "case-1:p1", NOW, "withdrawn-2").changed
    assert not model.withdraw(gone.calendar, gone.offers, "case-9:p1", NOW, "withdrawn-2").changed


def test_a_new_offer_after_a_cancellation_goes_on_from_the_call_s_last_sequence():
    case, chosen = booked()
    calls = dict(chosen.calendar.calls)
    del calls["case-1:p1"]                                  # calls.cancel: CallCancelled sequence 1
    calendar = chosen.calendar.model_copy(update={"calls": calls})
    again = model.offer(calendar, chosen.offers, case, case.parties[0], NOW, "evt-again", after=1)
    new = the_offer(again)
    assert new.sequence == 1 and new.offer_id == "case-1:p1:offer-2"
    rebooked = model.choose(again.calendar, again.offers, case, case.parties[0], new.offer_id, new.slots[0].slot_id,
                            NOW, "cmd-3", sender="firm-a")
    assert rebooked.messages[0].sequence == 2


def test_the_offers_survive_a_round_trip_through_their_document():
    case, change = offered()
    case, change = offered(case, 1, change.calendar, change.offers, cause="evt-2")
    stored = OfferBook.model_validate(change.offers.document())
    assert stored == change.offers and len(stored.holds()) == 6


def test_long_ids_are_shortened_to_valid_identifiers():
    case = a_case(case_id="c" * 80, parties=[a_party_of("p" * 40 + "1", "firm-a"), a_party_of("p2", "firm-b")])
    calendar, offers = empty()
    message = the_offer(model.offer(calendar, offers, case, case.parties[0], NOW, "evt"))
    assert len(message.call_id) == 122 and message.offer_id.startswith(message.call_id[:90])
    assert len(message.offer_id) <= 128 and all(len(slot.slot_id) <= 128 for slot in message.slots)
    assert len({slot.slot_id for slot in message.slots}) == 3


def test_a_mediator_s_calendar_state_is_not_changed_by_refusals_or_decisions():
    case, change = offered()
    calendar_before = change.calendar.model_dump()
    offers_before = change.offers.document()
    offer = the_offer(change)
    model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id, offer.slots[0].slot_id, NOW,
                 "cmd", sender="firm-a")
    assert change.calendar.model_dump() == calendar_before and change.offers.document() == offers_before
    assert isinstance(change.calendar, CalendarState)


def test_an_attack_the_mediator_s_own_bookings_and_another_mediator_s_hours_are_respected():
    mediator = a_mediator(hours=weekly("13:00", "15:00"))
    case, change = offered(a_case(mediator=mediator))
    for slot in the_offer(change).slots:
        assert 13 <= slot.start.hour and slot.end.hour * 60 + slot.end.minute <= 15 * 60


# -- case changes and links ---------------------------------------------------------------------------------------


def test_an_offer_that_still_fits_after_a_change_stays():
    case, change = offered()
    assert not model.revalidate(change.calendar, change.offers, case, case.parties[0], NOW, "upd-1").changed


def test_an_offer_that_no_longer_fits_is_replaced_by_a_new_one():
    case, change = offered()
    old = the_offer(change)
    mornings = case.parties[0].model_copy(update={"availability": weekly("09:00", "12:00")})
    changed = a_case(parties=[mornings, case.parties[1]])
    replaced = model.revalidate(change.calendar, change.offers, changed, changed.parties[0], NOW, "upd-1")
    (new,) = replaced.messages
    assert isinstance(new, CallSlotsOffered) and new.offer_id == "case-1:p1:offer-2"
    assert all(slot.end.hour < 12 or slot.end == slot.start.replace(hour=12, minute=0) for slot in new.slots)
    assert replaced.offers.of("case-1:p1").past[-1].status is OfferStatus.WITHDRAWN
    with pytest.raises(OfferNotCurrent):
        model.choose(replaced.calendar, replaced.offers, changed, changed.parties[0], old.offer_id,
                     old.slots[0].slot_id, NOW, "cmd", sender="firm-a")
    assert not model.revalidate(replaced.calendar, replaced.offers, changed, changed.parties[0], NOW, "upd-1").changed


def test_a_moved_session_replaces_an_offer_outside_the_new_window():
    case, change = offered()
    moved = a_case(session_start=SESSION_START + timedelta(days=14))
    replaced = model.revalidate(change.calendar, change.offers, moved, moved.parties[0], NOW, "upd-1")
    assert the_offer(replaced).slots[0].start == MON + timedelta(days=14)


def test_an_offer_of_a_side_no_longer_confirmed_is_withdrawn_on_revalidation():
    case, change = offered()
    gone = a_case(statuses={"p1": SideStatus.AWAITING_CONFIRMATION})
    withdrawn = model.revalidate(change.calendar, change.offers, gone, gone.parties[0], NOW, "upd-1")
    assert withdrawn.changed and withdrawn.messages == () and withdrawn.offers.holds() == []


def test_the_deadline_books_the_first_slot_that_still_fits_the_case_as_it_is_now():
    case, change = offered()
    offer = the_offer(change)
    not_monday = case.parties[0].model_copy(update={"availability": weekly("09:00", "17:00")[1:]})
    changed = a_case(parties=[not_monday, case.parties[1]])
    expired = model.expire(change.calendar, change.offers, changed, changed.parties[0], offer.expires_at)
    assert expired.messages[0].start == TUE


def test_links_are_signed_by_the_caller_for_this_offer_only():
    _, change = offered()
    message = model.linked(the_offer(change), lambda offer_id, slot_id: f"https://x.example/c/{offer_id}/{slot_id}",
                           lambda offer_id: f"https://x.example/d/{offer_id}")
    assert message.slots[1].choose_url == "https://x.example/c/case-1:p1:offer-1/case-1:p1:offer-1:2"
    assert message.decline_url == "https://x.example/d/case-1:p1:offer-1"


def test_a_finished_case_s_records_are_forgotten_but_not_while_something_is_open_or_booked():
    case, chosen = booked()
    second = model.offer(chosen.calendar, chosen.offers, case, case.parties[1], NOW, "evt-2")
    assert not model.forget(second.calendar, second.offers, "case-1").changed
    calls = {}
    withdrawn = model.withdraw(second.calendar.model_copy(update={"calls": calls}), second.offers, "case-1:p2", NOW,
                               "w")
    gone = model.forget(withdrawn.calendar, withdrawn.offers, "case-1")
    assert gone.changed and gone.offers.calls == {}


def test_every_problem_of_a_choice_is_named_at_once():
    case, change = offered()
    offer = the_offer(change)
    with pytest.raises(OfferExpired) as refused:
        model.choose(change.calendar, change.offers, case, case.parties[0], offer.offer_id, "nope",
                     offer.expires_at, "cmd", sender="firm-a")
    assert [reason.field for reason in refused.value.reasons] == ["offer_id", "slot_id"]


def test_every_problem_of_a_reply_is_named_at_once():
    case, chosen = booked()
    bad = replied("COUNTER", sequence=4, email="who@else.example",
                  proposed=[window(utc(2026, 3, 9, 9), utc(2026, 3, 9, 10))])
    with pytest.raises(UnknownSequence) as refused:
        model.reply(chosen.calendar, chosen.offers, case, case.parties[0], bad, NOW, "r")
    assert [reason.field for reason in refused.value.reasons] == ["sequence", "attendee_email", "proposed.0"]


def test_a_decline_names_an_expired_offer_and_its_bad_proposals_together():
    case, change = offered()
    offer = the_offer(change)
    with pytest.raises(OfferExpired) as refused:
        model.decline(change.calendar, change.offers, case, case.parties[0], offer.offer_id,
                      [window(utc(2026, 1, 20, 9), utc(2026, 1, 20, 10))], offer.expires_at, "cmd", sender="firm-a")
    assert [reason.field for reason in refused.value.reasons] == ["offer_id", "proposals.0"]


def test_two_instances_deciding_on_the_same_stale_calendar_would_overlap_so_the_wiring_must_compare_and_set():
    """What the compare-and-set on the mediator's calendar is for: two decisions computed from the same version
    hold the same slots; the one that loses the race must be recomputed from the winner's state, and then it
    never overlaps (the functions are deterministic, so recomputing is safe)."""
    one, two = a_case("case-1"), a_case("case-2", parties=[a_party_of("q1", "firm-c"), a_party_of("q2", "firm-d")])
    calendar, offers = empty()
    first = model.offer(calendar, offers, one, one.parties[0], NOW, "evt-a")
    stale = model.offer(calendar, offers, two, two.parties[0], NOW, "evt-b")
    assert [s.start for s in the_offer(first).slots] == [s.start for s in the_offer(stale).slots]
    retried = model.offer(first.calendar, first.offers, two, two.parties[0], NOW, "evt-b")
    held = sorted((h.start, h.end) for h in retried.offers.holds())
    assert all(end + timedelta(minutes=15) <= start for (_, end), (start, _) in zip(held, held[1:]))

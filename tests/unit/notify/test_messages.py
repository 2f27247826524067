import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

import pytest

from mednet_notify.messages import (
    Email,
    brief_ready_notice,
    cancellation_notice,
    completion_confirmation,
    invitation,
    local_span_text,
    local_time_text,
    objectives_confirmation,
    reminder,
    reminder_times,
    scheduling_failed_notice,
)
from mednet_shared.contracts.events import BriefReady, CallCompleted, ObjectivesRecorded, SchedulingFailed
from mednet_shared.contracts.values import AttendeeKind, ObjectiveIssue, ObjectiveSummary, Stance

from .test_invites import (
    ATTORNEY,
    END,
    MEDIATOR,
    PARTY,
    START,
    a_call,
    a_cancellation,
    a_reschedule,
    an_attendee,
    parsed,
    recipient_in,
)

KOLKATA_START_TEXT = "Thursday 3 December 2026, 14:30 (Asia/Kolkata, UTC+05:30)"
KOLKATA_CALL_TEXT = "Thursday 3 December 2026, 14:30–15:15 (Asia/Kolkata, UTC+05:30)"
NEW_YORK = "America/New_York"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def received(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def calendar_parts(message) -> list:
    return [part for part in message.walk() if part.get_content_type() == "text/calendar"]


# -- local times ----------------------------------------------------------------------------------


def test_a_moment_is_shown_in_the_zone_with_its_name_and_offset():
    assert local_time_text(START, "Asia/Kolkata") == KOLKATA_START_TEXT


def test_a_call_is_shown_as_a_span_on_one_day():
    assert local_span_text(START, END, "Asia/Kolkata") == KOLKATA_CALL_TEXT


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (utc(2026, 12, 3, 9), "America/St_Johns", "Thursday 3 December 2026, 05:30 (America/St_Johns, UTC-03:30)"),
        (utc(2026, 7, 3, 9), "Australia/Lord_Howe", "Friday 3 July 2026, 19:30 (Australia/Lord_Howe, UTC+10:30)"),
        (
            utc(2026, 12, 3, 9),
            "Australia/Lord_Howe",
            "Thursday 3 December 2026, 20:00 (Australia/Lord_Howe, UTC+11:00)",
        ),
        (utc(2026, 10, 31, 14), NEW_YORK, "Saturday 31 October 2026, 10:00 (America/New_York, UTC-04:00)"),
        (utc(2026, 11, 2, 14), NEW_YORK, "Monday 2 November 2026, 09:00 (America/New_York, UTC-05:00)"),
        (utc(2026, 12, 3, 9), "UTC", "Thursday 3 December 2026, 09:00 (UTC, UTC+00:00)"),
    ],
)
def test_offsets_follow_the_zone_and_its_daylight_saving(moment, zone, expected):
    assert local_time_text(moment, zone) == expected


def test_a_span_across_the_end_of_daylight_saving_shows_both_offsets():
    text = local_span_text(utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 15), NEW_YORK)

    assert text == (
        "Sunday 1 November 2026, 01:30 (America/New_York, UTC-04:00)"
        " – Sunday 1 November 2026, 01:15 (America/New_York, UTC-05:00)"
    )


def test_a_span_across_midnight_shows_both_days():
    text = local_span_text(utc(2026, 12, 3, 18, 0), utc(2026, 12, 3, 18, 45), "Asia/Kolkata")

    assert text == (
        "Thursday 3 December 2026, 23:30 (Asia/Kolkata, UTC+05:30)"
        " – Friday 4 December 2026, 00:15 (Asia/Kolkata, UTC+05:30)"
    )


# -- invitations and cancellations ----------------------------------------------------------------


def test_an_invitation_tells_the_recipient_when_in_their_own_zone():
    message = invitation(a_call(), PARTY)

    assert message.to == "pat@example.org"
    assert message.subject == "Pre-mediation call: Thursday 3 December 2026, 14:30 (Asia/Kolkata, UTC+05:30)"
    assert KOLKATA_CALL_TEXT in message.text


def test_an_invitation_says_who_takes_part_and_that_the_call_is_private():
    text = invitation(a_call(), PARTY).text

    for person in ("Mia Mediator (mediator)", "Pat Party (party)", "Alex Attorney (attorney)"):
        assert person in text
    assert "private" in text
    assert "only the mediator and Pat Party's side" in text


def test_an_invitation_attaches_a_request_for_the_recipients_zone():
    message = invitation(a_call(), ATTORNEY)
    calendar, event = parsed(message.calendar)

    assert message.calendar_method == "REQUEST"
    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == "call-42"
    assert str(event["ORGANIZER"]) == "mailto:mia@example.org"
    assert event.start.tzinfo.key == "America/St_Johns"


def test_an_invitation_near_the_end_of_daylight_saving_uses_the_offset_of_that_day():
    new_yorker = recipient_in(NEW_YORK)
    before = invitation(a_call(utc(2026, 10, 31, 14), utc(2026, 10, 31, 14, 45)), new_yorker)
    after = invitation(a_call(utc(2026, 11, 2, 14), utc(2026, 11, 2, 14, 45)), new_yorker)

    assert "Saturday 31 October 2026, 10:00–10:45 (America/New_York, UTC-04:00)" in before.text
    assert "Monday 2 November 2026, 09:00–09:45 (America/New_York, UTC-05:00)" in after.text
    assert parsed(after.calendar)[1].start.astimezone(UTC) == utc(2026, 11, 2, 14)


def test_a_rescheduled_call_says_so_and_where_it_moved_from():
    later = START + timedelta(days=1)
    message = invitation(a_reschedule(later, later + timedelta(minutes=45), sequence=1), PARTY)

    assert message.subject == f"Rescheduled: pre-mediation call on {local_time_text(later, 'Asia/Kolkata')}"
    assert "Friday 4 December 2026, 14:30" in message.subject
    assert "moved from Thursday 3 December 2026, 14:30 (Asia/Kolkata, UTC+05:30)" in message.text
    assert "Reason: Party asked" in message.text
    assert parsed(message.calendar)[1]["SEQUENCE"] == 1


def test_a_first_invitation_mentions_no_move():
    assert "moved" not in invitation(a_call(), PARTY).text


def test_a_cancellation_notice_attaches_a_cancel_in_the_recipients_zone():
    message = cancellation_notice(a_cancellation(sequence=2), PARTY, START, END)
    calendar, event = parsed(message.calendar)

    assert message.subject == "Cancelled: pre-mediation call on " + KOLKATA_START_TEXT
    assert KOLKATA_CALL_TEXT in message.text
    assert "Reason: Case settled" in message.text
    assert message.calendar_method == "CANCEL"
    assert calendar["METHOD"] == "CANCEL"
    assert event["UID"] == "call-42"
    assert event["SEQUENCE"] == 2


# -- the email on the wire ------------------------------------------------------------------------


def test_an_email_becomes_a_parsable_message_with_the_calendar_part():
    invitation_email = invitation(a_call(), PARTY)
    message = received(invitation_email.to_message("mednet <notify@mednet.example>"))

    assert message["From"] == "mednet <notify@mednet.example>"
    assert message["To"] == "pat@example.org"
    assert message["Subject"].lstrip() == invitation_email.subject
    assert message["Date"].datetime.tzinfo is not None
    assert message["Message-ID"].endswith("@mednet.example>")
    assert message.get_body(("plain",)).get_content() == invitation_email.text
    [calendar] = calendar_parts(message)
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_param("charset") == "utf-8"
    assert calendar.get_payload(decode=True) == invitation_email.calendar


def test_the_invitation_is_an_alternative_of_the_text_as_mail_clients_expect():
    message = received(invitation(a_call(), PARTY).to_message("notify@mednet.example"))

    assert message.get_content_type() == "multipart/alternative"
    text, calendar = message.get_payload()
    assert text.get_content_type() == "text/plain" and calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST" and calendar.get_content_disposition() is None


def test_a_cancellation_travels_with_the_cancel_method():
    notice = cancellation_notice(a_cancellation(), PARTY, START, END)
    [calendar] = calendar_parts(received(notice.to_message("notify@mednet.example")))

    assert calendar.get_param("method") == "CANCEL"
    assert parsed(calendar.get_payload(decode=True))[0]["METHOD"] == "CANCEL"


def test_an_email_without_a_calendar_is_plain_text_only():
    message = received(reminder(a_call(), PARTY, timedelta(hours=1)).to_message("notify@mednet.example"))

    assert calendar_parts(message) == []
    assert message.get_content_type() == "text/plain"


def test_names_and_words_beyond_ascii_arrive_as_written():
    letter_to_jose = Email(to="jose@example.org", subject="Appel préparatoire — José Núñez", text="Señor Núñez, ¿qué tal?")
    message = received(letter_to_jose.to_message("Médiation <notify@mednet.example>", "alert-7"))

    assert message["Subject"] == "Appel préparatoire — José Núñez"
    assert message["From"] == "Médiation <notify@mednet.example>"
    assert message.get_content() == "Señor Núñez, ¿qué tal?"


@pytest.mark.parametrize("calendar_and_method", [(b"BEGIN:VCALENDAR", None), (None, "REQUEST")])
def test_a_calendar_and_its_method_come_together(calendar_and_method):
    calendar, method = calendar_and_method
    with pytest.raises(ValueError):
        Email(to="pat@example.org", subject="s", text="t", calendar=calendar, calendar_method=method)


# -- reminders ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lead", "subject"),
    [
        (timedelta(hours=24), "Reminder: pre-mediation call in 24 hours"),
        (timedelta(hours=1), "Reminder: pre-mediation call in 1 hour"),
        (timedelta(minutes=90), "Reminder: pre-mediation call in 90 minutes"),
    ],
)
def test_a_reminder_says_how_soon(lead, subject):
    assert reminder(a_call(), PARTY, lead).subject == subject


def test_a_reminder_gives_the_time_in_the_recipients_zone_without_an_attachment():
    message = reminder(a_call(), PARTY, timedelta(hours=24))

    assert KOLKATA_CALL_TEXT in message.text
    assert message.calendar is None
    assert message.calendar_method is None


@pytest.mark.parametrize(
    ("now", "expected_leads"),
    [
        (START - timedelta(days=3), [timedelta(hours=24), timedelta(hours=1)]),
        (START - timedelta(hours=24), [timedelta(hours=1)]),
        (START - timedelta(hours=2), [timedelta(hours=1)]),
        (START - timedelta(hours=1), []),
        (START + timedelta(hours=1), []),
    ],
)
def test_reminders_are_due_only_while_still_ahead(now, expected_leads):
    times = reminder_times(START, now)

    assert [lead for lead, _ in times] == expected_leads
    assert [due_at for _, due_at in times] == [START - lead for lead in expected_leads]


# -- confirmations and notices --------------------------------------------------------------------


def objective(issue, priority, shareable=False, **more) -> ObjectiveSummary:
    return ObjectiveSummary(issue=issue, priority=priority, shareable=shareable, **more)


def test_the_objectives_confirmation_lists_exactly_the_partys_own_objectives_by_priority():
    recorded = ObjectivesRecorded(
        case_id="case-1",
        call_id="call-42",
        party_id="p1",
        objectives=[
            objective(ObjectiveIssue.APOLOGY, 2, shareable=True, stance=Stance.WANTS),
            objective(ObjectiveIssue.PAYMENT_AMOUNT, 1, stance=Stance.WILLING),
            objective(ObjectiveIssue.OTHER, 3, free_issue="Office lease", stance=Stance.OPPOSES),
        ],
        recorded_at=START,
    )
    text = objectives_confirmation(recorded, PARTY).text
    listed = [line for line in text.splitlines() if line.startswith(("- ", "  "))]

    assert listed == [
        "- Payment amount (priority 1): willing to give it",
        "  May be shared with the other side: no",
        "- Apology (priority 2): wants it",
        "  May be shared with the other side: yes",
        "- Office lease (priority 3): opposes it",
        "  May be shared with the other side: no",
    ]
    assert KOLKATA_START_TEXT in text


@pytest.mark.parametrize("issue", list(ObjectiveIssue))
def test_every_issue_has_a_readable_label(issue):
    recorded = ObjectivesRecorded(
        case_id="case-1", call_id="call-42", party_id="p1", objectives=[objective(issue, 1)], recorded_at=START
    )
    [line] = [line for line in objectives_confirmation(recorded, PARTY).text.splitlines() if line.startswith("- ")]

    assert re.fullmatch(r"- [A-Z][a-z -]+ \(priority 1\): wants it", line)


def test_a_completion_confirmation_gives_the_end_in_the_recipients_zone():
    completed = CallCompleted(
        call_id="call-42", case_id="case-1", party_id="p1", mediator_id="med-1", sequence=1,
        completed_at=utc(2026, 12, 3, 9, 50), participant_firms=["firm-a"],
    )
    message = completion_confirmation(completed, ATTORNEY)

    assert message.to == "alex@example.org"
    assert "Thursday 3 December 2026, 06:20 (America/St_Johns, UTC-03:30)" in message.text
    assert message.calendar is None


def test_a_brief_ready_notice_goes_to_the_mediator_with_the_link_only():
    ready = BriefReady(case_id="case-1", mediator_id="med-1", party_ids=["p1", "p2"], ready_at=START)
    message = brief_ready_notice(ready, MEDIATOR, "https://mednet.example/briefs/case-1")

    assert message.to == "mia@example.org"
    assert "case-1" in message.subject
    assert "https://mednet.example/briefs/case-1" in message.text
    assert "Thursday 3 December 2026, 09:00 (Europe/London, UTC+00:00)" in message.text


def test_a_scheduling_failure_notice_gives_the_reason():
    failed = SchedulingFailed(
        case_id="case-1", firm_id="firm-a", mediator_id="med-1", party_id="p1",
        reason="No common availability before the session", participant_firms=["firm-a"],
    )
    message = scheduling_failed_notice(failed, an_attendee(AttendeeKind.ATTORNEY, "Alex Attorney"))

    assert message.to == "alex@example.org"
    assert "case-1" in message.subject
    assert "Reason: No common availability before the session" in message.text


def test_the_same_alert_always_has_the_same_message_id_so_a_resend_is_recognised():
    notice = reminder(a_call(), PARTY, timedelta(hours=1))
    first = received(notice.to_message("notify@mednet.example", "job-1"))
    again = received(notice.to_message("notify@mednet.example", "job-1"))
    other = received(notice.to_message("notify@mednet.example", "job-2"))
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"].endswith("@mednet.example>")

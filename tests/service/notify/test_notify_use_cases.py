"""Every use case of notify on its in-memory store: each event type's jobs and firm records, reminders' rules,
preferences, deliveries and their retries, webhooks, the HTTP API, and state stored in the older shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from mednet_notify.dispatch import Dispatcher
from mednet_notify.domain import ROUTES, CallState, CaseState, Job
from mednet_shared.contracts.values import utc_now
from mednet_shared.contracts.events import (
    CallOutcomeRecorded,
    SideReadinessChanged,
    StatementReceived,
    BriefReady,
    CallCancelled,
    CallCompleted,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CaseOpened,
    CaseRejected,
    CaseUpdated,
    CaseWithdrawn,
    CallSlotsOffered,
    CallWaived,
    CommandRejected,
    RepresentationRequested,
    SideConfirmationOverdue,
    NotificationFailed,
    NotificationSent,
    ObjectivesRecorded,
    PreMediationCompleted,
    SchedulingFailed,
)
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.consumer import Incoming
from mednet_shared.platform.auth import Role

from notify_world import NOW, START, attendees, call, case_opened

PAT, ANN, ADA = "pat@parties.example.org", "ann@firm-a.example.org", "med-ada@mediators.example.org"


def outbound(world, firm: str) -> list[str]:
    return [event.type for topic, event in world.store.outbox.records if topic == Topics.firm_outbound(firm)]


async def opened_and_scheduled(world) -> None:
    await world.deliver(CaseOpened.model_validate(case_opened()))
    await world.deliver(CallScheduled.model_validate(call()), event_id="scheduled-0")


def test_the_routing_table_covers_every_subscribed_event():
    assert set(ROUTES) == {CaseOpened, CaseUpdated, CaseRejected, CaseWithdrawn, RepresentationRequested,
                           SideConfirmationOverdue, CommandRejected, CallSlotsOffered, CallScheduled,
                           CallRescheduled, CallCancelled, CallCompleted, CallMissed, CallWaived, SchedulingFailed,
                           PreMediationCompleted, ObjectivesRecorded, BriefReady, StatementReceived,
                           SideReadinessChanged, CallOutcomeRecorded}


async def test_a_statements_receipt_reaches_its_own_sides_firm_only(world):
    await world.deliver(CaseOpened.model_validate(case_opened()))
    await world.deliver(StatementReceived(case_id="case-1", party_id="p1", side_firm_id="firm-a", statement_version=1,
                                          parts=["interests"], received_at=utc_now()))
    assert "mednet.StatementReceived.v1" in outbound(world, "firm-a")
    assert all("mednet.StatementReceived.v1" not in outbound(world, firm) for firm in ("firm-b", "firm-s"))


async def test_an_opened_case_is_remembered_and_reaches_its_firms_only(world):
    await world.deliver(CaseOpened.model_validate(case_opened()))
    case = await world.store.case("case-1")
    assert case.firm_id == "firm-s" and case.mediator.email == ADA and case.party_firms == {"p1": ["firm-a"],
                                                                                             "p2": ["firm-b"]}
    assert all(outbound(world, firm) == ["mednet.CaseOpened.v1"] for firm in ("firm-a", "firm-b", "firm-s"))
    assert world.mail.sent == {}


async def test_an_update_keeps_what_the_opening_said_and_changes_the_firms(world):
    await world.deliver(CaseOpened.model_validate(case_opened()))
    updated = {k: v for k, v in case_opened().items() if k in ("case_id", "firm_id", "session", "parties")}
    updated["parties"][1].pop("attorney")
    await world.deliver(CaseUpdated.model_validate({**updated, "revision": 1, "changes": ["party_added"],
                                                    "participant_firms": ["firm-a", "firm-s"]}))
    case = await world.store.case("case-1")
    assert case.mediator.email == ADA and case.participant_firms == ["firm-a", "firm-s"]
    assert case.party_firms == {"p1": ["firm-a"]}


async def test_a_scheduled_call_invites_every_attendee_now_and_reminds_them_24_h_and_1_h_before(world):
    await opened_and_scheduled(world)
    assert {email.to for email in world.mail.sent.values()} == {PAT, ANN, ADA}
    assert all(email.calendar_method == "REQUEST" for email in world.mail.sent.values())
    reminders = world.jobs("reminder", "pending")
    assert sorted((job["recipient"], job["due_at"]) for job in reminders) == sorted(
        (who, START - lead) for who in (PAT, ANN, ADA) for lead in (timedelta(hours=24), timedelta(hours=1)))
    sent = [m for m in world.store.outbox.messages(NotificationSent)]
    assert sorted(m.recipient for m in sent) == sorted([PAT, ANN, ADA]) and {m.kind for m in sent} == {"invitation"}
    assert outbound(world, "firm-a")[-1] == "mednet.CallScheduled.v1"
    assert "mednet.CallScheduled.v1" not in outbound(world, "firm-b") + outbound(world, "firm-s"), \
        "the other sides, the submitting firm included, hear nothing of the call"


async def test_a_redelivered_event_adds_nothing(world):
    await opened_and_scheduled(world)
    before = (len(world.store.jobs), len(world.mail.sent), len(world.store.outbox.records))
    await world.deliver(CallScheduled.model_validate(call()), event_id="scheduled-0")
    assert (len(world.store.jobs), len(world.mail.sent), len(world.store.outbox.records)) == before


async def test_a_reminder_is_sent_when_due(world):
    await opened_and_scheduled(world)
    world.clock.now = START - timedelta(hours=24)
    await world.send_due()
    assert [e.subject for e in world.mail.to(PAT)][-1] == "Reminder: pre-mediation call in 24 hours"
    assert len(world.jobs("reminder", "sent")) == 3 and len(world.jobs("reminder", "pending")) == 3


async def test_a_call_close_to_its_start_gets_only_the_reminders_still_ahead(world):
    await world.deliver(CallScheduled.model_validate(call(start=NOW + timedelta(hours=5))))
    assert {job["due_at"] for job in world.jobs("reminder")} == {NOW + timedelta(hours=4)}


async def test_a_reschedule_drops_the_old_reminders_and_sets_new_ones(world):
    await opened_and_scheduled(world)
    later = START + timedelta(days=1)
    await world.deliver(CallRescheduled.model_validate({**call(1, later), "previous_start": START}))
    assert len(world.jobs("reminder", "dropped")) == 6
    assert {job["due_at"] for job in world.jobs("reminder", "pending")} == {later - timedelta(hours=24),
                                                                          later - timedelta(hours=1)}
    assert world.mail.to(PAT)[-1].subject.startswith("Rescheduled:")


async def test_a_cancellation_drops_the_reminders_and_cancels_at_the_remembered_time(world):
    await opened_and_scheduled(world)
    cancelled = {k: v for k, v in call(0).items() if k not in ("start", "end")}  # its own sequence's reminders too
    await world.deliver(CallCancelled.model_validate({**cancelled, "reason": "party withdrew"}))
    assert world.jobs("reminder", "pending") == [] and len(world.jobs("reminder", "dropped")) == 6
    notice = world.mail.to(PAT)[-1]
    assert notice.calendar_method == "CANCEL" and b"STATUS:CANCELLED" in notice.calendar
    assert "Reason: party withdrew" in notice.text


async def test_a_cancellation_of_a_call_never_heard_of_sends_no_notice_without_its_time(world):
    cancelled = {k: v for k, v in call(1).items() if k not in ("start", "end")}
    await world.deliver(CallCancelled.model_validate(cancelled))
    assert world.mail.sent == {}


async def test_a_completed_call_is_confirmed_to_its_attendees_and_reaches_the_partys_firm_only(world):
    await opened_and_scheduled(world)
    await world.deliver(CallCompleted.model_validate({**{k: v for k, v in call(1).items() if k in (
        "call_id", "case_id", "party_id", "mediator_id", "sequence", "participant_firms")}, "completed_at": START}))
    assert {e.to for e in world.mail.sent.values() if e.subject == "Pre-mediation call completed"} == {PAT, ANN, ADA}
    assert outbound(world, "firm-a")[-1] == "mednet.CallCompleted.v1"
    assert "mednet.CallCompleted.v1" not in outbound(world, "firm-b") + outbound(world, "firm-s")


async def test_recorded_objectives_go_to_the_partys_own_side_only(world):
    await opened_and_scheduled(world)
    await world.deliver(ObjectivesRecorded(case_id="case-1", call_id="case-1:p1", party_id="p1",
                                           party_firm_id="firm-a", recorded_at=START,
                                           objectives=[{"issue": "non_monetary_terms", "wants": "x", "priority": 1}]))
    confirmed = [e for e in world.mail.sent.values() if e.subject.startswith("Your objectives")]
    assert {e.to for e in confirmed} == {PAT, ANN}
    assert "- Non-monetary terms (priority 1): wants it" in confirmed[0].text
    assert outbound(world, "firm-a")[-1] == "mednet.ObjectivesRecorded.v1"
    assert "mednet.ObjectivesRecorded.v1" not in outbound(world, "firm-s") + outbound(world, "firm-b")


async def test_the_brief_goes_to_the_mediator_only_with_its_link(world):
    await world.deliver(CaseOpened.model_validate(case_opened()))
    await world.deliver(BriefReady(case_id="case-1", mediator_id="med-ada", party_ids=["p1", "p2"], ready_at=NOW))
    [brief] = world.mail.to(ADA)
    assert "https://notes.example/v1/cases/case-1/brief" in brief.text
    assert not any("BriefReady" in kind for firm in ("firm-a", "firm-b", "firm-s") for kind in outbound(world, firm))


async def test_a_scheduling_failure_alerts_the_mediator_and_the_partys_firm_only(world):
    await world.deliver(CaseOpened.model_validate(case_opened()))
    await world.deliver(SchedulingFailed(case_id="case-1", firm_id="firm-s", mediator_id="med-ada", party_id="p2",
                                         reason="no common slot", participant_firms=["firm-a", "firm-b", "firm-s"]))
    assert "Reason: no common slot" in world.mail.to(ADA)[0].text
    assert [f for f in ("firm-a", "firm-b", "firm-s") if "mednet.SchedulingFailed.v1" in outbound(world, f)] == [
        "firm-b"]


@pytest.mark.parametrize("message,firms", [
    (CaseRejected(firm_id="firm-s", external_ref="r", reasons=[{"field": "x", "message": "y"}]), ["firm-s"]),
    (CaseWithdrawn(case_id="case-1", firm_id="firm-s", participant_firms=["firm-a", "firm-s"]), ["firm-a", "firm-s"]),
    (PreMediationCompleted(case_id="case-1", mediator_id="med-ada", call_ids=["case-1:p1"], completed_at=NOW,
                           participant_firms=["firm-b"]), ["firm-b"]),
    (CallMissed(call_id="case-1:p2", case_id="case-1", party_id="p2", mediator_id="med-ada", sequence=0,
                missed_count=1, participant_firms=["firm-a", "firm-b", "firm-s"]), ["firm-b"]),
])
async def test_the_other_events_only_reach_their_firms(world, message, firms):
    await world.deliver(CaseOpened.model_validate(case_opened()))
    reached = [f for f in ("firm-a", "firm-b", "firm-s") if message.type_name() in outbound(world, f)]
    assert reached == [] and world.mail.sent == {}
    await world.deliver(message)
    assert [f for f in ("firm-a", "firm-b", "firm-s") if message.type_name() in outbound(world, f)] == firms
    assert world.mail.sent == {}


async def test_preferences_turn_off_reminders_and_emails_but_never_calendars(world):
    async with world.client(Role.OPERATOR) as operator:
        assert (await operator.put(f"/v1/preferences/{PAT.upper()}", json={"reminders": False})).json() == {
            "recipient": PAT, "email": True, "reminders": False}
        assert (await operator.put(f"/v1/preferences/{ANN}", json={"email": False})).status_code == 200
    await opened_and_scheduled(world)
    assert {job["recipient"] for job in world.jobs("reminder")} == {ADA}, "Pat wants no reminders, Ann no email"
    assert world.mail.to(ANN)[0].calendar_method == "REQUEST", "the invitation goes all the same"
    await world.deliver(CallCompleted(call_id="case-1:p1", case_id="case-1", party_id="p1", mediator_id="med-ada",
                                      sequence=1, completed_at=START, participant_firms=[]))
    assert {e.to for e in world.mail.sent.values() if "completed" in e.subject} == {PAT, ADA}
    async with world.client(Role.FIRM, firm_id="firm-a") as firm:
        assert (await firm.put(f"/v1/preferences/{PAT}", json={"email": False})).status_code == 403


async def test_a_failing_email_is_retried_with_backoff_then_fails_with_an_event(world):
    world.mail.refuse.add(ADA)
    await opened_and_scheduled(world)
    [job] = [j for j in world.jobs("invitation") if j["recipient"] == ADA]
    assert job["status"] == "pending" and job["attempt_count"] == 1 and job["due_at"] > NOW
    for _ in range(2):
        world.clock.now = job["due_at"] = NOW
        await world.send_due()
    assert job["status"] == "failed" and job["attempt_count"] == 3 and "SMTPRecipientRefused" in job["attempts"][-1][
        "error"]
    [failed] = world.store.outbox.messages(NotificationFailed)
    assert failed.recipient == ADA and failed.attempts == 3 and failed.kind == "invitation"


async def test_a_firms_webhook_gets_each_of_its_events_signed(world):
    async with world.client(Role.FIRM, firm_id="firm-a") as firm:
        registered = (await firm.post("/v1/webhooks", json={"url": "https://hooks.firm-a.example/in"})).json()
    await opened_and_scheduled(world)
    assert [p[0] for p in world.hooks.posts] == ["https://93.184.216.34/in"] * 2
    url, headers, payload = world.hooks.posts[-1]
    assert Webhook(registered["secret"]).verify(payload, headers)["type"] == "mednet.CallScheduled.v1"
    assert all(job["status"] == "sent" for job in world.jobs("webhook"))


async def test_a_failing_webhook_is_retried_and_its_endpoint_disabled_after_repeated_failures(world):
    async with world.client(Role.FIRM, firm_id="firm-a") as firm:
        registered = (await firm.post("/v1/webhooks", json={"url": "https://hooks.firm-a.example/in"})).json()
    world.hooks.status = 500
    await world.deliver(CaseOpened.model_validate(case_opened()))
    [job] = world.jobs("webhook")
    assert job["status"] == "pending" and job["attempts"][-1]["error"] == "HTTP 500"
    for _ in range(2):
        world.clock.now = job["due_at"]
        await world.send_due()
    assert job["status"] == "failed"
    endpoint = await world.store.endpoint(registered["endpoint_id"])
    assert endpoint["enabled"] is False and endpoint["consecutive_failures"] == 3


async def test_webhook_registration_refuses_internal_addresses_and_caps_endpoints(world):
    async with world.client(Role.FIRM, firm_id="firm-a") as firm:
        refused = await firm.post("/v1/webhooks", json={"url": "https://internal.firm-a.example/in"})
        assert refused.status_code == 422 and "private" in refused.text
        assert (await firm.post("/v1/webhooks", json={"url": "http://hooks.firm-a.example/in"})).status_code == 422
        first = await firm.post("/v1/webhooks", json={"url": "https://hooks.firm-a.example/1"})
        assert first.status_code == 201 and first.json()["secret"].startswith("whsec_")
        assert (await firm.post("/v1/webhooks", json={"url": "https://hooks.firm-a.example/2"})).status_code == 201
        assert (await firm.post("/v1/webhooks", json={"url": "https://hooks.firm-a.example/3"})).status_code == 409
        listed = (await firm.get("/v1/webhooks")).json()
        assert len(listed) == 2 and all("secret" not in e for e in listed)
        stored = world.store.endpoints[first.json()["endpoint_id"]]
        assert "secret" not in stored and world.store.signing_secret(stored) == first.json()["secret"]
    async with world.client(Role.FIRM, firm_id="firm-b") as other:
        assert (await other.delete(f"/v1/webhooks/{first.json()['endpoint_id']}")).status_code == 404
    async with world.client(Role.FIRM, firm_id="firm-a") as firm:
        assert (await firm.delete(f"/v1/webhooks/{first.json()['endpoint_id']}")).status_code == 204
        assert len((await firm.get("/v1/webhooks")).json()) == 1


async def test_notifications_are_shown_only_to_those_the_case_concerns(world):
    async with world.client(Role.FIRM, firm_id="firm-a") as firm:
        await firm.post("/v1/webhooks", json={"url": "https://hooks.firm-a.example/in"})
    await opened_and_scheduled(world)
    async with world.client(Role.OPERATOR) as operator:
        everything = (await operator.get("/v1/notifications", params={"case_id": "case-1"})).json()
    assert len(everything) == len(world.store.jobs) == 3 + 6 + 2
    async with world.client(Role.FIRM, firm_id="firm-a") as firm:
        own = (await firm.get("/v1/notifications", params={"case_id": "case-1"})).json()
    assert {n["channel"] for n in own} == {"webhook"} and len(own) == 2
    async with world.client(Role.MEDIATOR, mediator_id="med-ada") as mediator:
        assert (await mediator.get("/v1/notifications", params={"case_id": "case-1"})).status_code == 200
    async with world.client(Role.MEDIATOR, mediator_id="med-bob") as stranger:
        assert (await stranger.get("/v1/notifications", params={"case_id": "case-1"})).status_code == 404
    async with world.client(Role.FIRM, firm_id="firm-x") as stranger:
        assert (await stranger.get("/v1/notifications", params={"case_id": "case-1"})).status_code == 404


async def test_jobs_claimed_by_an_instance_that_died_before_sending_are_sent_after_the_lease(world):
    await world.dispatcher.stop(grace_seconds=0)
    message = CallScheduled.model_validate(call())
    event = new_event(message, source="/tests")
    await world.notifier.handle(Incoming(event=event, message=message, topic=message.topic, partition=0, offset=0))
    assert {job["status"] for job in world.jobs("invitation")} == {"sending"} and world.mail.sent == {}
    successor = Dispatcher(world.store, world.mail, world.hooks, poll_seconds=3600, max_attempts=3,
                           backoff_seconds=1, backoff_max_seconds=60, disable_after=3, clock=world.clock)
    await successor.dispatch_due()
    assert world.mail.sent == {}, "the lease still holds"
    world.clock.now = NOW + timedelta(minutes=2)
    await successor.start()
    await successor.dispatch_due()
    await successor.idle()
    await successor.stop(grace_seconds=0.5)
    assert len(world.mail.sent) == 3 and {job["status"] for job in world.jobs("invitation")} == {"sent"}


# -- state stored in the older shape --------------------------------------------------------------


async def test_a_call_stored_as_a_dump_of_its_event_is_read_as_call_state(world):
    old = {"_id": "case-1:p1", **CallScheduled.model_validate(call()).model_dump(mode="json"),
           "start": START, "end": START + timedelta(minutes=45)}
    world.store.calls["case-1:p1"] = old
    state = await world.store.call("case-1:p1")
    assert state == CallState(call_id="case-1:p1", case_id="case-1", party_id="p1", sequence=0, start=START,
                              end=START + timedelta(minutes=45), attendees=attendees())
    cancelled = {k: v for k, v in call(1).items() if k not in ("start", "end")}
    await world.deliver(CallCancelled.model_validate(cancelled))
    assert world.mail.to(PAT)[0].calendar_method == "CANCEL"


def test_a_case_and_a_job_in_the_older_shape_read_as_state():
    case = CaseState.model_validate({"_id": "case-1", "firm_id": "firm-s", "participant_firms": ["firm-a"],
                                     "mediator_id": "med-ada", "party_firms": {"p1": ["firm-a"]},
                                     "mediator": {**attendees()[2], "firm_id": None}})
    assert case.mediator.email == ADA and case.party_firms == {"p1": ["firm-a"]}
    job = Job.model_validate({"_id": "e:email:pat", "channel": "email", "purpose": "reminder", "recipient": PAT,
                              "case_id": "case-1", "call_id": "case-1:p1", "sequence": 0, "due_at": NOW,
                              "source_event_id": "e", "source_event_type": "mednet.CallScheduled.v1",
                              "status": "pending", "attempt_count": 0, "attempts": [], "created_at": NOW,
                              "email": {"to": PAT, "subject": "s", "text": "t", "calendar": None,
                                        "calendar_method": None}, "_outbox": []})
    assert job.email.to == PAT and job.status == "pending"


# -- sides, invitations calendars take as they are -------------------------------------------------


async def test_a_reschedule_to_the_same_time_sends_nothing_and_keeps_the_reminders(world):
    await opened_and_scheduled(world)
    sent, pending = len(world.mail.sent), sorted(j["_id"] for j in world.jobs("reminder", "pending"))
    await world.deliver(CallRescheduled.model_validate({**call(1, START), "previous_start": START}))
    assert len(world.mail.sent) == sent, "no invitation for a call that did not move"
    assert sorted(j["_id"] for j in world.jobs("reminder", "pending")) == pending, "its reminders stay as they were"


async def test_a_failure_after_a_booking_cancels_the_call_in_every_calendar(world):
    await opened_and_scheduled(world)
    await world.deliver(CallMissed.model_validate({**{k: v for k, v in call(0).items() if k in (
        "call_id", "case_id", "party_id", "mediator_id", "sequence", "participant_firms")}, "missed_count": 2}))
    await world.deliver(SchedulingFailed(case_id="case-1", firm_id="firm-s", mediator_id="med-ada", party_id="p1",
                                         call_id="case-1:p1", reason="missed twice",
                                         participant_firms=["firm-a", "firm-b", "firm-s"]))
    cancels = [e for e in world.mail.sent.values() if e.calendar_method == "CANCEL"]
    assert sorted(e.to for e in cancels) == sorted([PAT, ANN, ADA])
    assert all(b"SEQUENCE:1" in e.calendar and b"UID:case-1:p1" in e.calendar for e in cancels)
    assert world.jobs("reminder", "pending") == []


async def test_a_completed_call_is_never_cancelled(world):
    await opened_and_scheduled(world)
    await world.deliver(CallCompleted(call_id="case-1:p1", case_id="case-1", party_id="p1", mediator_id="med-ada",
                                      sequence=0, completed_at=START, participant_firms=[]))
    await world.deliver(CallCancelled.model_validate({**call(1), "reason": "case withdrawn"}))
    await world.deliver(SchedulingFailed(case_id="case-1", firm_id="firm-s", mediator_id="med-ada", party_id="p1",
                                         call_id="case-1:p1", reason="x", participant_firms=[]))
    assert [e for e in world.mail.sent.values() if e.calendar_method == "CANCEL"] == []


async def test_a_waived_call_tells_its_side_and_cancels_the_booking(world):
    await opened_and_scheduled(world)
    await world.deliver(CallWaived(call_id="case-1:p1", case_id="case-1", party_id="p1", mediator_id="med-ada",
                                   sequence=1, reason="the party declined a call", waived_at=NOW,
                                   participant_firms=["firm-a", "firm-s"], side_firm_id="firm-a"))
    notices = [e for e in world.mail.sent.values() if e.subject == "Pre-mediation call will not take place"]
    assert sorted(e.to for e in notices) == sorted([PAT, ANN])
    assert {e.to for e in world.mail.sent.values() if e.calendar_method == "CANCEL"} == {PAT, ANN, ADA}
    assert outbound(world, "firm-a")[-1] == "mednet.CallWaived.v1"
    assert "mednet.CallWaived.v1" not in outbound(world, "firm-s") + outbound(world, "firm-b")


async def test_the_submitting_firms_webhook_gets_nothing_of_another_sides_call(world):
    async with world.client(Role.FIRM, firm_id="firm-s") as firm:
        await firm.post("/v1/webhooks", json={"url": "https://hooks.firm-s.example/in"})
    await opened_and_scheduled(world)
    bodies = [payload for _, _, payload in world.hooks.posts]
    assert len(bodies) == 1 and "mednet.CaseOpened.v1" in bodies[0]
    assert PAT not in bodies[0] and ANN not in bodies[0] and "case-1:p1" not in bodies[0]


async def test_a_rejected_command_goes_to_its_sender_only_and_emails_nobody(world):
    await world.deliver(CommandRejected(firm_id="firm-a", command_id="cmd-9", command_type="mednet.MoveSession.v1",
                                        case_id="case-1", reasons=[{"field": "", "message": "not the submitter"}],
                                        rejected_at=NOW))
    assert outbound(world, "firm-a") == ["mednet.CommandRejected.v1"]
    assert outbound(world, "firm-s") == outbound(world, "firm-b") == [] and world.mail.sent == {}


async def test_an_offer_emails_the_party_and_the_attorney_and_reaches_the_sides_firm(world):
    await world.deliver(CaseOpened.model_validate(case_opened()))
    await world.deliver(CallSlotsOffered.model_validate({
        **{k: v for k, v in call(0).items() if k not in ("start", "end")}, "offer_id": "offer-1",
        "expires_at": NOW + timedelta(hours=48), "side_firm_id": "firm-a",
        "slots": [{"slot_id": f"s{k}", "start": START + timedelta(hours=k),
                   "end": START + timedelta(hours=k, minutes=45)} for k in range(3)]}))
    assert sorted(e.to for e in world.mail.sent.values()) == sorted([PAT, ANN])
    assert outbound(world, "firm-a")[-1] == "mednet.CallSlotsOffered.v1"
    assert "mednet.CallSlotsOffered.v1" not in outbound(world, "firm-s") + outbound(world, "firm-b")


# -- iTIP replies uploaded over HTTP ---------------------------------------------------------------


async def test_an_uploaded_decline_is_published_once_and_unknown_replies_change_nothing(world):
    from mednet_shared.contracts.events import InvitationReplied
    from unit.notify.test_replies import reply_ics

    await opened_and_scheduled(world)
    calendar = {"content-type": "text/calendar; charset=utf-8"}
    async with world.client(Role.MEDIATOR, mediator_id="med-ada") as mediator:
        for _ in range(2):
            answer = await mediator.post("/v1/replies", content=reply_ics(sequence=0), headers=calendar)
            assert answer.status_code == 202, answer.text
        assert answer.json() == {"call_id": "case-1:p1", "attendee_email": PAT, "partstat": "DECLINED",
                                 "sequence": 0}
        unknown = await mediator.post("/v1/replies", content=reply_ics(uid="case-1:p7"), headers=calendar)
        assert unknown.status_code == 404
        stranger = await mediator.post("/v1/replies", content=reply_ics(attendee="eve@elsewhere.example"),
                                       headers=calendar)
        assert stranger.status_code == 422 and "eve@elsewhere.example is not an attendee" in stranger.text
        assert (await mediator.post("/v1/replies", content=reply_ics(), headers={
            "content-type": "application/json"})).status_code == 415
    async with world.client(Role.MEDIATOR, mediator_id="med-bob") as other_mediator:
        assert (await other_mediator.post("/v1/replies", content=reply_ics(), headers=calendar)).status_code == 404
    async with world.client(Role.OPERATOR) as operator:
        missing = await operator.post("/v1/replies", content=reply_ics(uid="case-1:p7"), headers=calendar)
        assert missing.status_code == 422 and "no call has UID case-1:p7" in missing.text
    async with world.client(Role.FIRM, firm_id="firm-a") as firm:
        assert (await firm.post("/v1/replies", content=reply_ics(), headers=calendar)).status_code == 403
    [replied] = world.store.outbox.messages(InvitationReplied)
    assert (replied.call_id, replied.attendee_email, replied.partstat) == ("case-1:p1", PAT, "DECLINED")
    assert [topic for topic, event in world.store.outbox.records if event.type == replied.type_name()] == [
        Topics.NOTIFY]


async def test_a_reschedule_keeps_the_calls_place_and_a_second_cancellation_sends_nothing(world):
    await world.deliver(CaseOpened.model_validate(case_opened()))
    place = {"kind": "video", "url": "https://meet.example/r/q7", "text": "Video room q7"}
    await world.deliver(CallScheduled.model_validate(call(place=place)))
    later = START + timedelta(days=1)
    await world.deliver(CallRescheduled.model_validate({**call(1, later), "previous_start": START}))
    moved = [e for e in world.mail.to(PAT) if e.subject.startswith("Rescheduled:")]
    assert moved and "Where: Video room q7" in moved[0].text and b"LOCATION:Video room q7" in moved[0].calendar
    await world.deliver(CallCancelled.model_validate({**call(2, later), "reason": "mediator ill"}))
    await world.deliver(CallCancelled.model_validate({**call(3, later), "reason": "case withdrawn"}))
    assert len([e for e in world.mail.to(PAT) if e.calendar_method == "CANCEL"]) == 1

"""Readiness reminders on notify's in-memory stores, through app.py's handler wiring: each side's party and own firm
are reminded 7 and 2 days before the session of that side's outstanding items only; a done item, a ready side, a
moved session and a withdrawal change what is sent; a redelivery or two sweepers at once send each reminder once."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from mednet_notify.app import handler_of
from mednet_notify.readiness_store import MemoryReadinessStore
from mednet_notify.reminders import Reminders
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CaseOpened, CaseWithdrawn, ReadinessRequired, SideReadinessChanged
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from mednet_shared.platform.consumer import Incoming

from notify_world import NOW, case_opened

P1, P2 = "p1@parties.example.org", "p2@parties.example.org"
ALL = ["agreement_signed", "attendees_named", "authority_confirmed"]


def reminders_of(world, days=(7, 2)) -> Reminders:
    return Reminders(MemoryReadinessStore(), world.store, world.dispatcher, days, 60, clock=world.clock)


async def learn(world, reminders: Reminders, message, event_id: str | None = None) -> None:
    event = new_event(message, source="/tests", event_id=event_id)
    incoming = Incoming(event=event, message=message, topic=message.topic, partition=0, offset=0)
    await handler_of(type(message), world.notifier, reminders)(incoming)
    await world.send_due()


def opened(unrepresented_p2: bool = False) -> CaseOpened:
    document = case_opened()
    if unrepresented_p2:
        del document["parties"][1]["attorney"]
    sides = [{"party_id": "p1", "role": "claimant", "firm_id": "firm-a", "status": "confirmed", "since": NOW},
             {"party_id": "p2", "role": "respondent", "firm_id": None if unrepresented_p2 else "firm-b",
              "status": "confirmed", "since": NOW}]
    return CaseOpened.model_validate({**document, "sides": sides})


def required(case: CaseOpened, start=None, p1=ALL, p2=ALL) -> ReadinessRequired:
    return ReadinessRequired(case_id=case.case_id, mediator_id="med-ada", session_start=start or case.session.start,
                             required_items=ALL, set_at=NOW,
                             sides=[{"party_id": "p1", "outstanding": p1}, {"party_id": "p2", "outstanding": p2}])


def changed(case: CaseOpened, party_id: str, item: str, outstanding: list[str]) -> SideReadinessChanged:
    return SideReadinessChanged(case_id=case.case_id, party_id=party_id, mediator_id="med-ada", item=item, done=True,
                                set_by="firm", outstanding=outstanding, ready=not outstanding, changed_at=NOW,
                                side_firm_id={"p1": "firm-a", "p2": "firm-b"}[party_id])


async def hooks_for(world, *firms: str) -> None:
    for firm in firms:
        async with world.client(Role.FIRM, firm_id=firm) as client:
            assert (await client.post("/v1/webhooks", json={"url": f"https://hooks.{firm}.example/in"})).is_success


async def at(world, reminders: Reminders, moment) -> None:
    world.clock.now = moment
    await reminders.sweep()
    await world.send_due()


def reminder_mail(world, address: str) -> list:
    return [e for e in world.mail.to(address) if "still to do" in str(e.subject)]


def firm_reminders(world, firm: str) -> list[dict]:
    return [event.data for topic, event in world.store.outbox.records
            if topic == Topics.firm_outbound(firm) and event.type == "mednet.ReadinessReminder.v1"]


def hooked(world, host: str) -> list[dict]:
    return [json.loads(body) for url, _, body in world.hooks.posts
            if host in url and '"mednet.ReadinessReminder.v1"' in body]


@pytest.fixture
async def case(world):
    case = opened()
    await hooks_for(world, "firm-a", "firm-b")
    return case


async def test_each_side_hears_of_its_own_outstanding_items_only_and_a_done_item_stops_them(world, case):
    reminders = reminders_of(world)
    await learn(world, reminders, case)
    await learn(world, reminders, required(case))
    assert sorted((r.party_id, r.days_before) for r in await reminders.readiness.reminders_of(case.case_id)) == [
        ("p1", 2), ("p1", 7), ("p2", 2), ("p2", 7)]
    await learn(world, reminders, changed(case, "p1", "agreement_signed", ALL[1:]))
    start = case.session.start

    await at(world, reminders, start - timedelta(days=7, seconds=1))
    assert not reminder_mail(world, P1) and not reminder_mail(world, P2), "not before it is due"
    await at(world, reminders, start - timedelta(days=7))
    [p1_mail], [p2_mail] = reminder_mail(world, P1), reminder_mail(world, P2)
    assert "who will attend" in p1_mail.text and "agreement to mediate" not in p1_mail.text
    assert "agreement to mediate" in p2_mail.text and "in 7 days" in p2_mail.text
    [a_record], [b_record] = firm_reminders(world, "firm-a"), firm_reminders(world, "firm-b")
    assert (a_record["party_id"], a_record["outstanding"], a_record["days_before"]) == ("p1", ALL[1:], 7)
    assert (b_record["party_id"], b_record["outstanding"]) == ("p2", ALL)
    [a_hook], [b_hook] = hooked(world, "93.184.216.34"), hooked(world, "93.184.216.35")
    assert a_hook["data"] == a_record and b_hook["data"] == b_record
    for text in (p1_mail.text, json.dumps(a_record), json.dumps(a_hook)):
        assert "p2" not in text and "firm-b" not in text and "Party p2" not in text, "no other side's data"

    await learn(world, reminders, changed(case, "p1", "authority_confirmed", []))  # p1 ready
    await at(world, reminders, start - timedelta(days=2))
    assert len(reminder_mail(world, P1)) == 1 and len(firm_reminders(world, "firm-a")) == 1, "p1 is done"
    assert len(reminder_mail(world, P2)) == 2 and len(firm_reminders(world, "firm-b")) == 2
    statuses = {(r.party_id, r.days_before): r.status for r in await reminders.readiness.reminders_of(case.case_id)}
    assert statuses == {("p1", 7): "sent", ("p1", 2): "dropped", ("p2", 7): "sent", ("p2", 2): "sent"}


async def test_a_due_reminder_of_a_side_done_since_its_plan_is_not_sent(world, case):
    reminders = reminders_of(world, days=(2,))
    await learn(world, reminders, case)
    await learn(world, reminders, required(case, p1=["attendees_named"]))
    world.clock.now = case.session.start - timedelta(days=1)  # both due, not yet swept
    await learn(world, reminders, changed(case, "p1", "attendees_named", []))
    await reminders.sweep()
    await world.send_due()
    assert not reminder_mail(world, P1) and not firm_reminders(world, "firm-a")
    assert len(reminder_mail(world, P2)) == 1


async def test_a_moved_session_replans_and_a_withdrawal_stops_every_reminder(world, case):
    reminders = reminders_of(world)
    await learn(world, reminders, case)
    await learn(world, reminders, required(case))
    later = case.session.start + timedelta(days=10)
    await learn(world, reminders, required(case, start=later))
    planned = await reminders.readiness.reminders_of(case.case_id)
    assert sorted((r.session_start == later, r.status) for r in planned) == [(False, "dropped")] * 4 + [
        (True, "pending")] * 4
    await at(world, reminders, case.session.start - timedelta(days=2))
    assert not reminder_mail(world, P1), "the old session's reminders are gone"
    await at(world, reminders, later - timedelta(days=7))
    assert len(reminder_mail(world, P1)) == 1
    await learn(world, reminders, CaseWithdrawn(case_id=case.case_id, firm_id="firm-s",
                                                participant_firms=case.participant_firms))
    await learn(world, reminders, required(case, start=later))  # notes, later than intake: still withdrawn
    await at(world, reminders, later - timedelta(days=2))
    assert len(reminder_mail(world, P1)) == 1 and len(reminder_mail(world, P2)) == 1
    assert {r.status for r in await reminders.readiness.reminders_of(case.case_id)} == {"sent", "dropped"}


async def test_an_unrepresented_side_gets_its_email_and_no_firm_hears_of_it(world):
    case = opened(unrepresented_p2=True)
    await hooks_for(world, "firm-a", "firm-b")
    reminders = reminders_of(world, days=(7,))
    await learn(world, reminders, case)
    await learn(world, reminders, required(case, p1=[]))
    await at(world, reminders, case.session.start - timedelta(days=7))
    assert len(reminder_mail(world, P2)) == 1 and not reminder_mail(world, P1)
    assert not firm_reminders(world, "firm-a") and not firm_reminders(world, "firm-b")
    assert not hooked(world, "93.184.216")


async def test_a_redelivery_and_two_sweepers_at_once_send_each_reminder_once(world, case):
    first, second = reminders_of(world, days=(7,)), None
    await learn(world, first, case)
    for _ in range(2):
        await learn(world, first, required(case), event_id="required-1")
    second = Reminders(first.readiness, world.store, world.dispatcher, (7,), 60, clock=world.clock)
    world.clock.now = case.session.start - timedelta(days=7)
    due = await first.readiness.due_reminders(world.clock.now)
    for reminder in due:  # both instances found the same due reminders before either marked them
        world.clock.now += timedelta(seconds=3)
        await asyncio.gather(first.fire(reminder), second.fire(reminder))
    await world.send_due()
    assert len(reminder_mail(world, P1)) == 1 and len(reminder_mail(world, P2)) == 1
    [record], [hook] = firm_reminders(world, "firm-a"), hooked(world, "93.184.216.34")
    assert hook["data"] == record and record["reminded_at"] == "2026-12-09T14:00:00Z", "one reminder, alike"


async def test_the_reminders_preference_turns_them_off(world, case):
    async with world.client(Role.OPERATOR) as operator:
        assert (await operator.put(f"/v1/preferences/{P1}", json={"reminders": False})).is_success
    reminders = reminders_of(world, days=(7,))
    await learn(world, reminders, case)
    await learn(world, reminders, required(case))
    await at(world, reminders, case.session.start - timedelta(days=7))
    assert not reminder_mail(world, P1) and len(reminder_mail(world, P2)) == 1
    assert len(firm_reminders(world, "firm-a")) == 1, "the firm still hears of its side"

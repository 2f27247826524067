"""A stopping notify instance: the sends under way finish, the jobs not started go back for another instance, and
no email reaches the server without being recorded as sent (which another instance would send again)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from mednet_notify.dispatch import Dispatcher
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CallScheduled, CaseOpened
from mednet_shared.platform.consumer import Incoming

from notify_world import NOW, call, case_opened


async def test_a_stop_lets_each_send_under_way_finish_and_gives_back_the_rest(world):
    await world.dispatcher.stop(grace_seconds=0)
    for message in (CaseOpened.model_validate(case_opened()), CallScheduled.model_validate(call())):
        event = new_event(message, source="/tests")
        await world.notifier.handle(Incoming(event=event, message=message, topic=message.topic, partition=0, offset=0))
    handed_to_the_server: list[str] = []
    record = world.mail.send

    async def slow_send(email, alert_id=None):
        handed_to_the_server.append(alert_id)
        await asyncio.sleep(0.2)  # the server has the message; its answer is on the way
        await record(email, alert_id)

    world.mail.send = slow_send
    world.clock.now = NOW + timedelta(minutes=2)  # the claims of the stopped dispatcher have run out
    leaving = Dispatcher(world.store, world.mail, world.hooks, poll_seconds=3600, max_attempts=3, backoff_seconds=1,
                         backoff_max_seconds=60, disable_after=3, clock=world.clock, concurrency=1)
    await leaving.start()
    assert await leaving.dispatch_due() == 3
    async def second_send_started() -> None:
        while len(handed_to_the_server) < 2:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(second_send_started(), 5)
    await asyncio.wait_for(leaving.stop(grace_seconds=0.3), 5)

    emails = world.jobs(status=None)
    sent = {job["_id"] for job in emails if job["status"] == "sent"}
    assert set(handed_to_the_server) == set(world.mail.sent) == sent, "each email the server got is recorded sent"
    assert {job["status"] for job in emails if job["channel"] == "email" and job["_id"] not in sent} <= {"pending"}

"""Wiring of the scheduling service: its topics, its outbox collections and every subscription, in one place."""

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from mednet_shared.contracts.events import (
    CaseOpened,
    CaseUpdated,
    CaseWithdrawn,
    ChooseCallSlot,
    DeclineCallSlots,
    InvitationReplied,
    RequestReschedule,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.service import ServiceRuntime

from . import agenda_api, api, side_api
from .config import Settings
from .handlers import SchedulingHandlers
from .links import Links
from .store import CALENDARS, CASES, REJECTIONS, MongoSchedulingStore
from .usecases import Scheduler

PUBLISHES = [Topics.SCHEDULING]
CONSUMES = [Topics.INTAKE, Topics.NOTIFY]
log = logging.getLogger("mednet.scheduling")


async def sweep_forever(scheduler: Scheduler, every_seconds: float) -> None:
    """Offers past their deadline are booked (every instance sweeps; each decision is made once)."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await scheduler.sweep()
        except asyncio.CancelledError:
            raise
        except Exception as error:   # the next sweep tries again
            log.warning("offer sweep failed: %s: %s", type(error).__name__, error)


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    links = Links(settings.link_keyset(), settings.public_url,   # fail closed: no service without its link keys
                  settings.console_url)

    async def start_sweeping(_: ServiceRuntime) -> None:
        if any(task.get_name() == "scheduling-offer-sweep" for task in asyncio.all_tasks()):
            return   # a connection retried: one sweep
        task = asyncio.create_task(sweep_forever(scheduler, settings.sweep_seconds), name="scheduling-offer-sweep")

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        runtime.on_stopping.append(stop)

    runtime = ServiceRuntime(settings, outbox_collections=[CALENDARS, CASES, REJECTIONS], topics=PUBLISHES + CONSUMES,
                             on_connected=start_sweeping)
    scheduler = Scheduler(MongoSchedulingStore(runtime.db, runtime.relay), links=links,
                          complete_before_start=settings.complete_before_start)
    handlers = SchedulingHandlers(scheduler)
    runtime.consumer.subscribe(
        [Topics.INTAKE],
        group_id=settings.consumer_group,
        handlers={
            CaseOpened: handlers.case_opened,
            CaseUpdated: handlers.case_updated,
            CaseWithdrawn: handlers.case_withdrawn,
        },
    )
    runtime.consumer.subscribe(
        [Topics.NOTIFY],
        group_id=f"{settings.consumer_group}-replies",
        handlers={InvitationReplied: handlers.invitation_replied},
    )
    runtime.consumer.subscribe(
        pattern=settings.inbound_topic_pattern,
        group_id=f"{settings.consumer_group}-firm-commands",
        handlers={RequestReschedule: handlers.request_reschedule, ChooseCallSlot: handlers.choose_or_decline_slots,
                  DeclineCallSlots: handlers.choose_or_decline_slots},
        on_invalid=dict.fromkeys((RequestReschedule, ChooseCallSlot, DeclineCallSlots), handlers.invalid_command),
        unparseable_left_to="intake",
    )
    runtime.consumer.after_dead_letter = handlers.dead_lettered
    app = runtime.http_app([api.router, agenda_api.router, side_api.router])
    app.state.scheduler = scheduler
    return app

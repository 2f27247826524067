"""Wiring of the scheduling service: its topics, its outbox collections and every subscription, in one place."""

from fastapi import FastAPI

from mednet_shared.contracts.events import (
    CaseOpened,
    CaseUpdated,
    CaseWithdrawn,
    ChooseCallSlot,
    DeclineCallSlots,
    RequestReschedule,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.service import ServiceRuntime

from . import api
from .config import Settings
from .handlers import SchedulingHandlers
from .store import CALENDARS, CASES, REJECTIONS, MongoSchedulingStore
from .usecases import Scheduler

PUBLISHES = [Topics.SCHEDULING]
CONSUMES = [Topics.INTAKE]


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, outbox_collections=[CALENDARS, CASES, REJECTIONS], topics=PUBLISHES + CONSUMES)
    scheduler = Scheduler(MongoSchedulingStore(runtime.db, runtime.relay),
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
        pattern=settings.inbound_topic_pattern,
        group_id=f"{settings.consumer_group}-firm-commands",
        handlers={RequestReschedule: handlers.request_reschedule, ChooseCallSlot: handlers.choose_or_decline_slots,
                  DeclineCallSlots: handlers.choose_or_decline_slots},
        on_invalid=dict.fromkeys((RequestReschedule, ChooseCallSlot, DeclineCallSlots), handlers.invalid_command),
        unparseable_left_to="intake",
    )
    app = runtime.http_app([api.router])
    app.state.scheduler = scheduler
    return app

"""Wiring of the notes service: its topics, its outbox collections and every subscription, in one place."""

import asyncio
import contextlib
import logging

from fastapi import FastAPI
from prometheus_client import Gauge

from mednet_shared.contracts.events import (
    CallCancelled,
    CallCompleted,
    CallRescheduled,
    CallScheduled,
    CallWaived,
    CaseOpened,
    CaseUpdated,
    PreMediationCompleted,
    SubmitStatement,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.service import ServiceRuntime

from . import api, side_api
from .config import Settings
from .handlers import NotesHandlers
from .usecases import Notes
from .store import CASES, REJECTIONS, MongoNotesStore

log = logging.getLogger("mednet.notes")
CASES_NOT_READY = Gauge("mednet_notes_cases_not_ready", "Cases not ready for a session starting within N days",
                        ["within_days"])
PUBLISHES = [Topics.NOTES]
CONSUMES = [Topics.INTAKE, Topics.SCHEDULING]


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    link_keys = settings.link_keyset()   # fail closed: a side's link is verified with these
    sweeper: list[asyncio.Task] = []

    async def measure() -> None:
        while True:
            with contextlib.suppress(Exception):
                CASES_NOT_READY.labels(str(settings.not_ready_days)).set(
                    await notes.count_not_ready(settings.not_ready_days))
            await asyncio.sleep(settings.readiness_sweep_seconds)

    async def connected(_: ServiceRuntime) -> None:
        if not sweeper:
            sweeper.append(asyncio.create_task(measure(), name="notes-readiness-gauge"))

    async def stopping() -> None:
        for task in sweeper:
            task.cancel()
        sweeper.clear()

    runtime = ServiceRuntime(settings, outbox_collections=[CASES, REJECTIONS], topics=PUBLISHES + CONSUMES,
                             on_connected=connected)
    runtime.on_stopping.append(stopping)
    notes = Notes(MongoNotesStore(runtime.db, runtime.relay), settings.key_ring(),
                  max_document_bytes=settings.max_document_bytes)
    handlers = NotesHandlers(notes)
    runtime.consumer.subscribe(
        CONSUMES,
        group_id=settings.consumer_group,
        handlers={
            CaseOpened: handlers.case_opened,
            CaseUpdated: handlers.case_updated,
            CallScheduled: handlers.call_scheduled,
            CallRescheduled: handlers.call_scheduled,
            CallCancelled: handlers.call_cancelled,
            CallCompleted: handlers.call_completed,
            CallWaived: handlers.call_waived,
            PreMediationCompleted: handlers.pre_mediation_completed,
        },
    )
    runtime.consumer.subscribe(
        pattern=settings.inbound_topic_pattern,
        group_id=f"{settings.consumer_group}-firm-commands",
        handlers={SubmitStatement: handlers.submit_statement},
        on_invalid={SubmitStatement: handlers.invalid_command},
        unparseable_left_to="intake",
    )
    runtime.consumer.after_dead_letter = handlers.dead_lettered
    app = runtime.http_app([api.router, side_api.router])
    app.state.link_keys = link_keys
    app.state.notes = notes
    return app

"""Wiring of the intake service: its topics, its outbox collections and every subscription, in one place."""

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from mednet_shared.contracts.events import (
    AcceptRepresentation,
    ChooseCallSlot,
    DeclineCallSlots,
    DeclineRepresentation,
    MoveSession,
    RequestReschedule,
    SubmitCase,
    SubmitStatement,
    UpdatePartyAvailability,
    WithdrawCase,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.service import ServiceRuntime

from . import api
from .config import Settings
from .handlers import FirmCommands
from .usecases import Intake
from .store import CASES, REJECTIONS, MongoCaseStore

PUBLISHES = [Topics.INTAKE]
CONSUMES: list[str] = []  # only the firms' inbound topics, by pattern
log = logging.getLogger("mednet.intake")


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    sweeper: list[asyncio.Task] = []

    async def connected(_: ServiceRuntime) -> None:
        await store.ensure_indexes()
        if not sweeper:
            sweeper.append(asyncio.create_task(sweep(intake, settings.sweep_seconds), name="intake-overdue-sweeper"))

    async def stopping() -> None:
        for task in sweeper:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    runtime = ServiceRuntime(settings, outbox_collections=[CASES, REJECTIONS], topics=PUBLISHES,
                             on_connected=connected)
    store = MongoCaseStore(runtime.db, runtime.relay)
    intake = Intake(store)
    commands = FirmCommands(intake)
    runtime.consumer.subscribe(
        pattern=settings.inbound_topic_pattern,
        group_id=settings.consumer_group,
        handlers={
            SubmitCase: commands.submit_case,
            WithdrawCase: commands.withdraw_case,
            UpdatePartyAvailability: commands.update_party_availability,
            MoveSession: commands.move_session,
            AcceptRepresentation: commands.accept_representation,
            DeclineRepresentation: commands.decline_representation,
        },
        on_invalid={SubmitCase: commands.invalid_submission},
        strict=True,
        passing=[RequestReschedule, ChooseCallSlot, DeclineCallSlots, SubmitStatement],
    )
    runtime.consumer.after_dead_letter = commands.dead_lettered
    runtime.on_stopping.append(stopping)
    app = runtime.http_app([api.router])
    app.state.intake = intake
    return app


async def sweep(intake: Intake, every_seconds: float) -> None:
    """Every few seconds: the sides whose confirmation is overdue (state in MongoDB, so it survives restarts)."""
    while True:
        try:
            while await intake.sweep_overdue() > 0:
                pass
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the database away: try again next round
            log.warning("overdue sweep failed (%s); retrying in %ss", type(error).__name__, every_seconds)
        await asyncio.sleep(every_seconds)

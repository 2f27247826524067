"""Wiring of the intake service: its topics, its outbox collections and every subscription, in one place."""

from fastapi import FastAPI

from mednet_shared.contracts.events import RequestReschedule, SubmitCase, UpdatePartyAvailability, WithdrawCase
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.service import ServiceRuntime

from . import api
from .config import Settings
from .handlers import FirmCommands
from .usecases import Intake
from .store import CASES, REJECTIONS, MongoCaseStore

PUBLISHES = [Topics.INTAKE]


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, outbox_collections=[CASES, REJECTIONS], topics=PUBLISHES)
    intake = Intake(MongoCaseStore(runtime.db, runtime.relay))
    commands = FirmCommands(intake)
    runtime.consumer.subscribe(
        pattern=settings.inbound_topic_pattern,
        group_id=settings.consumer_group,
        handlers={
            SubmitCase: commands.submit_case,
            WithdrawCase: commands.withdraw_case,
            UpdatePartyAvailability: commands.update_party_availability,
        },
        on_invalid={SubmitCase: commands.invalid_submission},
        strict=True,
        passing=[RequestReschedule],
    )
    app = runtime.http_app([api.router])
    app.state.intake = intake
    return app

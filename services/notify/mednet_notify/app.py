"""Wiring of the notify service: its topics, its outbox collections and every subscription, in one place."""

from fastapi import FastAPI

from mednet_shared.contracts import Topics
from mednet_shared.platform.service import ServiceRuntime

from .config import Settings

PUBLISHES = [Topics.NOTIFY]
CONSUMES: list[str] = [Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES]
OUTBOX_COLLECTIONS = ["notifications"]


def build(settings: Settings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or Settings(), outbox_collections=OUTBOX_COLLECTIONS, topics=PUBLISHES + CONSUMES
    )
    return runtime.http_app()

"""Wiring of the notes service: its topics, its outbox collections and every subscription, in one place."""

from fastapi import FastAPI

from mednet_shared.contracts import Topics
from mednet_shared.platform.service import ServiceRuntime

from .config import Settings

PUBLISHES = [Topics.NOTES]
CONSUMES: list[str] = [Topics.SCHEDULING]
OUTBOX_COLLECTIONS = ["notes"]


def build(settings: Settings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or Settings(), outbox_collections=OUTBOX_COLLECTIONS, topics=PUBLISHES + CONSUMES
    )
    return runtime.http_app()

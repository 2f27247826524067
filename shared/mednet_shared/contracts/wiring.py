"""What each service subscribes to and publishes, read from its own app.py (the services must be installed): the
source of its AsyncAPI document and of the wiring section of its CANVAS.md."""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .events import COMMANDS, EVENTS, CommandRejected, Message
from .topics import Topics

SERVICES = ("intake", "scheduling", "notes", "notify")
FIRM_INBOUND = "mednet.firm.{firmId}.inbound"
FIRM_OUTBOUND = "mednet.firm.{firmId}.outbound"
DOCUMENTATION_SETTINGS = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "MONGODB_URL": "mongodb://mongo:27017",
    "MEDNET_NOTES_ENCRYPTION_KEY": "ZG9jdW1lbnRhdGlvbi1vbmx5LW5vdC1hLXJlYWwtayE=",
    "MEDNET_JWT_JWKS_URL": "https://issuer.example.org/.well-known/jwks.json", "MEDNET_JWT_KEYS": "",
    "MEDNET_JWT_SECRET": "", "MEDNET_SCHEDULING_LINK_KEYS": '{"doc": "documentation-only-not-a-real-link-key"}',
    "MEDNET_SCHEDULING_LINK_ACTIVE_KID": "doc", "MEDNET_SCHEDULING_PUBLIC_URL": "https://scheduling.example.org",
    "MEDNET_NOTES_LINK_KEYS": '{"doc": "documentation-only-not-a-real-link-key"}',
    "MEDNET_NOTES_LINK_ACTIVE_KID": "doc",
}


@dataclass(frozen=True)
class Subscription:
    channel: str  # a topic, or FIRM_INBOUND for the firms' inbound topics (subscribed by pattern)
    group_id: str
    handled: tuple[type[Message], ...]  # handled, or turned into an answer when invalid
    passing: tuple[type[Message], ...] = ()  # accepted on the topic, handled by another service


@dataclass(frozen=True)
class Wiring:
    service: str
    subscriptions: tuple[Subscription, ...]
    publishes: dict[str, tuple[type[Message], ...]] = field(default_factory=dict)  # topic -> types

    def consumed(self, published: dict[str, set[type[Message]]] | None = None) -> dict[str, tuple[type[Message], ...]]:
        """Each channel with the types the service handles on it, in the order first subscribed; given what is
        published where (`published_on`), only those a topic carries."""
        channels: dict[str, dict[type[Message], None]] = {}
        for subscription in self.subscriptions:
            channels.setdefault(subscription.channel, {}).update(dict.fromkeys(subscription.handled))
        return {channel: tuple(m for m in types if published is None or channel == FIRM_INBOUND
                               or m in published.get(channel, ())) for channel, types in channels.items()}

    def groups(self, channel: str) -> list[str]:
        return sorted({s.group_id for s in self.subscriptions if s.channel == channel})

    def passing(self, channel: str) -> tuple[type[Message], ...]:
        return tuple(dict.fromkeys(m for s in self.subscriptions if s.channel == channel for m in s.passing))


@functools.cache
def wiring(service: str) -> Wiring:
    """Build the service's app with documentation-only settings and record every subscription it makes (once a
    process: building the four apps takes seconds)."""
    module = importlib.import_module(f"mednet_{service}.app")
    with _documentation_settings(), _recorded() as subscriptions:
        app = module.build()
    runtime = app.state.runtime
    own = f"mednet.{service}.events"
    answers_firms = any(s.channel == FIRM_INBOUND and s.handled for s in subscriptions)
    publishes = {own: tuple(m for m in EVENTS if m.topic == own or (m is CommandRejected and answers_firms))
                 for topic in runtime.topics if topic == own}
    if getattr(module, "PUBLISHES_TO_FIRMS", False):
        publishes[FIRM_OUTBOUND] = firm_outbound_events()
    return Wiring(service, tuple(subscriptions), publishes)


def wirings() -> dict[str, Wiring]:
    return {service: wiring(service) for service in SERVICES}


def published_on(all_wirings: dict[str, Wiring]) -> dict[str, set[type[Message]]]:
    """Each topic with every type some service publishes on it."""
    published: dict[str, set[type[Message]]] = {}
    for each in all_wirings.values():
        for topic, types in each.publishes.items():
            published.setdefault(topic, set()).update(types)
    return published


def firm_outbound_events() -> tuple[type[Message], ...]:
    """What a firm can receive: every event notify's projection has a whitelist for (no other reaches a firm)."""
    views = importlib.import_module("mednet_notify.projection").VIEWS
    return tuple(model for model in EVENTS if model in views)


def firm_commands(all_wirings: dict[str, Wiring]) -> tuple[type[Message], ...]:
    """Every command some service handles on the firms' inbound topics, in the contracts' order."""
    handled = {m for w in all_wirings.values() for s in w.subscriptions if s.channel == FIRM_INBOUND for m in s.handled}
    return tuple(model for model in COMMANDS if model in handled)


@contextmanager
def _recorded() -> Iterator[list[Subscription]]:
    from ..platform.consumer import EventConsumer

    original, seen = EventConsumer.subscribe, []

    def recording(consumer, topics=(), handlers=None, group_id="", **options):
        handled = tuple(dict.fromkeys([*(handlers or {}), *(options.get("on_invalid") or {})]))
        passing = tuple(options.get("passing", ()))
        channels = [FIRM_INBOUND] if options.get("pattern") == Topics.FIRM_INBOUND_PATTERN else list(topics)
        if "pattern" in options and options["pattern"] != Topics.FIRM_INBOUND_PATTERN:
            raise ValueError(f"{consumer.service}: pattern {options['pattern']!r} is no documented channel")
        seen.extend(Subscription(channel, group_id, handled, passing) for channel in channels)
        return original(consumer, topics, handlers, group_id, **options)

    EventConsumer.subscribe = recording
    try:
        yield seen
    finally:
        EventConsumer.subscribe = original


@contextmanager
def _documentation_settings() -> Iterator[None]:
    """Only the documentation settings: whatever the environment says of a service (a group, a pattern) is not
    what its wiring declares."""
    saved = {key: value for key, value in os.environ.items() if key.startswith(("MEDNET_", "KAFKA_", "MONGODB_"))}
    for key in saved:
        del os.environ[key]
    os.environ.update(DOCUMENTATION_SETTINGS)
    try:
        yield
    finally:
        for key in DOCUMENTATION_SETTINGS:
            os.environ.pop(key, None)
        os.environ.update(saved)

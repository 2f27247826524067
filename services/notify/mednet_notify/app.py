"""Wiring of the notify service: its topics, its outbox collections and every subscription, in one place."""

from fastapi import FastAPI

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.service import ServiceRuntime

from . import api, readiness
from .config import Settings
from .dispatch import Dispatcher, Mailer, WebhookSender
from .domain import ROUTES
from .handlers import Notifier
from .readiness_store import MongoReadinessStore
from .reminders import Reminders
from .replies import InboundSmtp, Replies
from .store import JOBS, STREAMS, MongoStore

PUBLISHES = [Topics.NOTIFY]
PUBLISHES_TO_FIRMS = True  # every firm's outbound topic (mednet.firm.<firm_id>.outbound), projected for that firm
CONSUMES = [Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES]
EVENTS = list(dict.fromkeys([*ROUTES, *readiness.EVENTS]))  # every event type the routing table knows, and
# those the readiness reminders learn from


def handler_of(event: type, notifier: Notifier, reminders: Reminders):
    """The routing table's handler, the readiness reminders' or both, one after the other."""
    if event not in readiness.EVENTS:
        return notifier.handle
    if event not in ROUTES:
        return reminders.handle

    async def both(incoming) -> None:
        await notifier.handle(incoming)
        await reminders.handle(incoming)
    return both


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def connected(_: ServiceRuntime) -> None:
        await store.ensure_indexes()
        await readiness_store.ensure_indexes()
        await dispatcher.start()
        await reminders.start()
        if inbound is not None:
            await inbound.start()

    runtime = ServiceRuntime(settings, outbox_collections=[JOBS, STREAMS], topics=PUBLISHES + CONSUMES,
                             on_connected=connected)
    store = MongoStore(runtime.db, runtime.relay, settings.secret_box(), settings.webhook_max_endpoints_per_firm)
    webhooks = WebhookSender(allow_loopback_http=settings.webhook_allow_loopback_http,
                             deadline_seconds=settings.webhook_timeout_seconds,
                             max_response_bytes=settings.webhook_max_response_bytes)
    mailer = Mailer(settings.smtp_host, settings.smtp_port, settings.smtp_sender, keep=settings.dispatch_concurrency,
                    security=settings.smtp_security, username=settings.smtp_username,
                    password=settings.smtp_password.get_secret_value(), ca_file=settings.smtp_ca_file)
    dispatcher = Dispatcher(
        store, mailer, webhooks,
        poll_seconds=settings.poll_seconds, max_attempts=settings.delivery_max_attempts,
        backoff_seconds=settings.delivery_backoff_seconds, backoff_max_seconds=settings.delivery_backoff_max_seconds,
        disable_after=settings.webhook_disable_after, concurrency=settings.dispatch_concurrency,
        webhook_concurrency=settings.webhook_concurrency,
        webhook_concurrency_per_firm=settings.webhook_concurrency_per_firm,
    )
    notifier = Notifier(store, dispatcher, settings.brief_url)
    readiness_store = MongoReadinessStore(runtime.db)
    reminders = Reminders(readiness_store, store, dispatcher, settings.readiness_days, settings.readiness_sweep_seconds)
    replies = Replies(store)
    inbound = (InboundSmtp(replies, settings.inbound_smtp_host, settings.inbound_smtp_port)
               if settings.inbound_smtp_host and settings.inbound_smtp_port is not None else None)
    runtime.consumer.subscribe(CONSUMES, group_id=settings.consumer_group,
                               handlers={event: handler_of(event, notifier, reminders) for event in EVENTS})
    if inbound is not None:
        runtime.on_stopping.append(inbound.stop)
    runtime.on_stopping.append(reminders.stop)
    runtime.on_stopping.append(dispatcher.stop)
    runtime.on_stopping.append(webhooks.aclose)
    runtime.on_stopping.append(mailer.close)
    app = runtime.http_app([api.router])
    app.state.notifier = notifier
    app.state.reminders = reminders
    app.state.replies = replies
    app.state.inbound_smtp = inbound
    return app

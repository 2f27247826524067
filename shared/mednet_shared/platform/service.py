"""The runtime every service is built on: Kafka broker, MongoDB client, outbox relay, guard, HTTP probes.

HTTP answers from the first moment (/healthz); the runtime connects to Kafka and MongoDB in the
background and keeps trying, and /readyz says 200 only while both answer. SIGTERM (handled by
uvicorn) runs the lifespan shutdown: in-flight messages finish and are committed, the relay drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import audit, http, logs, metrics
from .auth import runtime_policy
from .consumer import EventConsumer, RetryPolicy
from .idempotency import IdempotencyGuard
from .kafka import BrokerPublisher, ensure_topics, make_broker
from .mongo import answers, make_client
from .outbox import OutboxRelay
from .settings import ServiceSettings

log = logging.getLogger("mednet.service")


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        outbox_collections: Sequence[str] = (),
        topics: Sequence[str] = (),
        on_connected: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.broker = make_broker(settings.kafka_bootstrap_servers, client_id=f"mednet-{self.name}",
                                  security=settings.kafka_security)
        self.mongo = make_client(settings.mongodb_url, app_name=f"mednet-{self.name}")
        self.db = self.mongo[settings.database]
        self.guard = IdempotencyGuard(self.db["processed_events"], consumer=self.name)
        self.relay = OutboxRelay(
            self.name, BrokerPublisher(self.broker), [self.db[c] for c in outbox_collections], settings.outbox_sweep_seconds
        )
        self.consumer = EventConsumer(
            self.name,
            self.broker,
            self.guard,
            RetryPolicy(settings.handler_max_attempts, settings.retry_backoff_seconds, settings.retry_backoff_max_seconds),
        )
        self.topics = list(topics)
        self._document_publications()
        self.on_connected = on_connected
        self.connected = asyncio.Event()
        self.on_stopping: list[Callable[[], Awaitable[None]]] = []
        self._lag: asyncio.Task | None = None
        self._connecting: asyncio.Task | None = None

    def _document_publications(self) -> None:
        """Declare what the service publishes, for its AsyncAPI document (the outbox relay does the publishing)."""
        from ..contracts.envelope import CloudEvent
        from ..contracts.events import EVENTS

        for topic in self.topics:
            types = [model.type_name() for model in EVENTS if model.topic == topic]
            if types and topic == _own_topic(self.name):
                self.broker.publisher(topic, title=f"{topic}:publish", schema=CloudEvent,
                                      description="CloudEvents 1.0 (structured JSON, key = case_id): " + ", ".join(types))

    async def connect(self) -> None:
        """Retry until Kafka and MongoDB answer, then start consuming and relaying."""
        delay = 0.5
        while True:
            try:
                await asyncio.wait_for(self.db.command("ping"), self.settings.ready_timeout_seconds * 3)
                await self.guard.ensure_indexes()
                await audit.ensure_indexes(self.db[audit.COLLECTION])
                if self.topics:
                    await ensure_topics(self.settings.kafka_bootstrap_servers, self.topics,
                                        self.settings.topic_partitions, self.settings.topic_replication,
                                        security=self.settings.kafka_security)
                if self.on_connected:
                    await self.on_connected(self)
                await self.broker.start()
                await self.relay.start()
                self._lag = asyncio.create_task(self._measure_lag(), name=f"{self.name}-consumer-lag")
                self.connected.set()
                log.info("%s connected to Kafka %s and MongoDB", self.name, self.settings.kafka_bootstrap_servers)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("%s could not connect yet (%s: %s); retrying in %.1fs",
                            self.name, type(error).__name__, error, delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _measure_lag(self, every_seconds: float = 5.0) -> None:
        """mednet_consumer_lag per assigned partition: the partition's end offset minus the consumer's position."""
        while True:
            await asyncio.sleep(every_seconds)
            for subscriber in self.broker.subscribers:
                consumer = getattr(subscriber, "consumer", None)
                if consumer is None:
                    continue
                try:
                    for partition in consumer.assignment():
                        highwater = consumer.highwater(partition)
                        if highwater is not None:
                            lag = highwater - await consumer.position(partition)
                            metrics.CONSUMER_LAG.labels(self.name, consumer._group_id, partition.topic,
                                                        str(partition.partition)).set(max(lag, 0))
                except Exception as error:
                    log.debug("consumer lag not measured: %s", error)

    async def start(self) -> None:
        self._connecting = asyncio.create_task(self.connect(), name=f"{self.name}-connect")

    async def stop(self) -> None:
        if self._connecting and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._lag:
            self._lag.cancel()
        for stopping in self.on_stopping:
            await _timed(getattr(stopping, "__qualname__", "on_stopping"), stopping())
        await _timed("outbox relay", self.relay.stop())
        await _timed("kafka broker", self.broker.stop())
        await _timed("mongodb client", self.mongo.close())

    async def readiness(self) -> dict[str, bool]:
        timeout = self.settings.ready_timeout_seconds

        async def mongo_up() -> bool:
            try:
                return await asyncio.wait_for(answers(self.mongo, int(timeout * 1000)), timeout)
            except TimeoutError:
                return False

        async def kafka_up() -> bool:
            if not self.connected.is_set():
                return False
            try:
                return await asyncio.wait_for(self.broker.ping(timeout), timeout + 0.5)
            except TimeoutError:
                return False

        mongo_ok, kafka_ok = await asyncio.gather(mongo_up(), kafka_up())
        state = {"kafka": kafka_ok, "mongodb": mongo_ok, "started": self.connected.is_set()}
        metrics.DEPENDENCY_UP.labels(self.name, "kafka").set(int(kafka_ok))
        metrics.DEPENDENCY_UP.labels(self.name, "mongodb").set(int(mongo_ok))
        return state

    def http_app(self, routers: Sequence[APIRouter] = (), title: str | None = None) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI):
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(title=title or f"mednet {self.name}", lifespan=lifespan)
        app.state.runtime = self

        @app.get("/healthz", tags=["probes"], **http.answers(http.Liveness))
        async def healthz() -> dict:
            return {"service": self.name, "status": "alive"}

        @app.get("/readyz", tags=["probes"], **http.answers(http.Readiness, extra={503: {
            "model": http.Readiness, "description": "Kafka or MongoDB does not answer"}}))
        async def readyz(response: Response) -> dict:
            state = await self.readiness()
            ready = all(state.values())
            response.status_code = 200 if ready else 503
            return {"service": self.name, "ready": ready, **state}

        @app.get("/metrics", tags=["probes"], response_class=PlainTextResponse)
        async def prometheus_metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        for router in routers:
            app.include_router(router)
        http.install(app, self.name, runtime_policy, self.settings.http_max_body_bytes)
        audit.install(app, self.db[audit.COLLECTION])
        return app


async def _timed(step: str, stopping: Awaitable[None], slow_seconds: float = 5.0) -> None:
    """One shutdown step; one that takes long is named in the log while it still runs (a hung step is found)."""
    task = asyncio.ensure_future(stopping)
    done, _ = await asyncio.wait({task}, timeout=slow_seconds)
    if not done:
        log.warning("shutdown: %s still stopping after %.0fs", step, slow_seconds)
    await task


def _own_topic(service: str) -> str:
    return f"mednet.{service}.events"


def run(app: FastAPI, settings: ServiceSettings) -> None:
    """Serve until SIGTERM/SIGINT; uvicorn then runs the lifespan shutdown and the process exits 0."""
    import signal

    import uvicorn

    # uvicorn re-raises the signal it shut down on, once its own handler is removed; with this one
    # in place, a SIGTERM that ended in a graceful shutdown is a normal exit (status 0).
    signal.signal(signal.SIGTERM, lambda *_: None)
    _fewer_collections()
    log_config = logs.configure(settings.service_name, settings.log_level, settings.json_logs)
    config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_config=log_config,
                            log_level=settings.log_level.lower(), timeout_graceful_shutdown=5, lifespan="on")
    server = StoppingServer(config, deadline_seconds=settings.shutdown_deadline_seconds)
    server.run()


def _fewer_collections() -> None:
    """The objects of the imports (frameworks, models, schemas) live as long as the process: frozen, the cyclic
    garbage collector no longer walks them; and it runs after 10,000 new objects instead of 700, since
    messages allocate many short-lived ones that reference counting frees anyway."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


class StoppingServer:
    """uvicorn's server with a deadline on shutdown: past it the process exits anyway. Nothing is lost by
    that: offsets are committed only after effects, so whatever was in flight is redelivered."""

    def __init__(self, config, deadline_seconds: float) -> None:
        import uvicorn

        self.server = uvicorn.Server(config)
        self.deadline_seconds = deadline_seconds
        original = self.server.handle_exit

        def handle_exit(sig, frame) -> None:
            original(sig, frame)
            self._arm_deadline()

        self.server.handle_exit = handle_exit

    def _arm_deadline(self) -> None:
        import os
        import threading

        def expire() -> None:
            log.error("graceful shutdown exceeded %.0fs; exiting now (in-flight messages will be redelivered)",
                      self.deadline_seconds)
            logging.shutdown()
            os._exit(0)

        timer = threading.Timer(self.deadline_seconds, expire)
        timer.daemon = True
        timer.start()

    def run(self) -> None:
        self.server.run()

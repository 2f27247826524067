"""Prometheus metrics of the platform, prefixed mednet_; every series carries the service label.

No label takes a value a sender chooses: event types go through type_label (the catalog's types, else "other");
topics are those provisioned for firms; every other label is a name from the code."""

from prometheus_client import Counter, Gauge, Histogram

from ..contracts.events import COMMANDS, EVENTS

KNOWN_TYPES = frozenset(model.type_name() for model in EVENTS + COMMANDS)
OTHER = "other"


def type_label(event_type: str) -> str:
    """The event type as a label: one of the catalog's, or "other" (a firm may send any type it likes)."""
    return event_type if event_type in KNOWN_TYPES else OTHER

EVENTS_CONSUMED = Counter(
    "mednet_events_consumed_total", "Events consumed, by type and outcome", ["service", "type", "outcome"]
)
EVENTS_PUBLISHED = Counter(
    "mednet_events_published_total", "Events the outbox relay published, by type and outcome: published, failed",
    ["service", "type", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "mednet_handler_seconds",
    "Handler latency",
    ["service", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEAD_LETTERS = Counter("mednet_dead_letters_total", "Messages routed to a dead-letter topic", ["service", "topic", "reason"])
RETRIES = Counter("mednet_handler_retries_total", "Handler attempts that failed and will be retried", ["service", "kind"])
OUTBOX_BACKLOG = Gauge("mednet_outbox_backlog", "Events written but not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("mednet_outbox_oldest_age_seconds", "Age of the oldest unpublished event", ["service"])
DEPENDENCY_UP = Gauge("mednet_dependency_up", "1 when the dependency answered the last readiness probe", ["service", "dependency"])
DUPLICATES_ABSORBED = Counter(
    "mednet_duplicates_absorbed_total", "Redelivered events whose effect had already happened", ["service", "type"]
)
MONGODB_COMMAND_SECONDS = Histogram(
    "mednet_mongodb_command_seconds", "MongoDB operation latency", ["service", "command", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
MONGODB_DOCUMENTS_WRITTEN = Counter(
    "mednet_mongodb_documents_written_total",
    "Documents inserted, matched by an update or deleted (a bulk command counts each of its documents)",
    ["service", "command"],
)
CONSUMER_LAG = Gauge("mednet_consumer_lag", "Records not yet consumed, per partition",
                     ["service", "group", "topic", "partition"])

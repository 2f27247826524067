"""Scheduling's domain figures, counted when the events that carry them are written."""

from datetime import datetime

from prometheus_client import Counter, Histogram

from mednet_shared.contracts.events import (
    CallRescheduled,
    CallScheduled,
    Message,
    PreMediationCompleted,
    SchedulingFailed,
)

CALLS_SCHEDULED = Counter("mednet_calls_scheduled_total", "Calls placed, first time or moved", ["kind"])
LEAD_TIME = Histogram("mednet_call_lead_time_hours", "Hours between a call's end and the mediation session",
                      buckets=(24, 48, 72, 120, 168, 336, 720, 1440))
SCHEDULING_FAILURES = Counter("mednet_scheduling_failures_total", "Calls that could not be placed")
PREMEDIATION_COMPLETED = Counter("mednet_premediation_completed_total",
                                 "Cases whose calls were all completed, by whether that was before the session",
                                 ["before_session"])


def count(message: Message, session_start: datetime) -> None:
    if isinstance(message, (CallScheduled, CallRescheduled)):
        CALLS_SCHEDULED.labels("rescheduled" if isinstance(message, CallRescheduled) else "scheduled").inc()
        LEAD_TIME.observe((session_start - message.end).total_seconds() / 3600)
    elif isinstance(message, SchedulingFailed):
        SCHEDULING_FAILURES.inc()
    elif isinstance(message, PreMediationCompleted):
        PREMEDIATION_COMPLETED.labels(str(message.completed_at < session_start).lower()).inc()

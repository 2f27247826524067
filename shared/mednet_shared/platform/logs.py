"""Structured JSON logs that carry the CloudEvents correlation and causation ids of the event being handled."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

current_event: ContextVar[dict[str, str] | None] = ContextVar("mednet_current_event", default=None)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            **(current_event.get() or {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, level: str, json_logs: bool) -> dict:
    """Root logging for a service process; returns the uvicorn log config that keeps uvicorn on the same format."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service) if json_logs
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return {"version": 1, "disable_existing_loggers": False,
            "loggers": {name: {"handlers": [], "propagate": True, "level": level}
                        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")}}

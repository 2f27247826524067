"""Times as the reader reads them: in the reader's own zone, with the zone named."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from itertools import groupby
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse(moment: str | datetime) -> datetime:
    return moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)


def local(moment: str | datetime, zone_name: str | None) -> datetime:
    return parse(moment).astimezone(zone(zone_name))


def day_heading(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def clock(moment: str | datetime, zone_name: str | None) -> str:
    return f"{local(moment, zone_name):%H:%M}"


def when(moment: str | datetime, zone_name: str | None) -> str:
    """e.g. "Tuesday 3 March 2026, 14:30 (Europe/Paris, CET)"."""
    at = local(moment, zone_name)
    return f"{day_heading(at.date())}, {at:%H:%M} ({zone(zone_name).key}, {at:%Z})"


def span(start: str | datetime, end: str | datetime, zone_name: str | None) -> str:
    at = local(start, zone_name)
    return f"{day_heading(at.date())}, {at:%H:%M}–{clock(end, zone_name)} ({zone(zone_name).key}, {at:%Z})"


def by_day(items: Iterable[dict], zone_name: str | None, key: str = "start") -> list[tuple[str, list[dict]]]:
    """Items (sorted by `key`) grouped by their day in the zone, each day named."""
    ordered = sorted(items, key=lambda item: parse(item[key]))
    return [(day_heading(day), list(group))
            for day, group in groupby(ordered, key=lambda item: local(item[key], zone_name).date())]

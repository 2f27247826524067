"""The mediator's forms as the services' bodies: pure, each mistake named in plain words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mednet_shared.contracts.values import ISSUE_LABELS, ObjectiveIssue, Stance, Weekday

DAYS = {Weekday.MON: "Monday", Weekday.TUE: "Tuesday", Weekday.WED: "Wednesday", Weekday.THU: "Thursday",
        Weekday.FRI: "Friday", Weekday.SAT: "Saturday", Weekday.SUN: "Sunday"}
OBSERVATIONS = {"free_text": "Notes on this call", "concerns": "Concerns", "interests": "Interests",
                "underlying_issues": "Underlying issues", "dynamics": "Dynamics", "rapport": "Rapport",
                "settlement_authority": "Settlement authority", "settlement_range": "Settlement range"}
ISSUES = [(issue.value, label) for issue, label in ISSUE_LABELS.items()]
STANCES = [(Stance.WANTS.value, "wants it"), (Stance.WILLING.value, "is willing to give it"),
           (Stance.OPPOSES.value, "opposes it")]
SPAN = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


class FormError(ValueError):
    """Every mistake in a form, each naming its field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _clock(text: str, where: str) -> time:
    try:
        return time.fromisoformat(text.zfill(5))
    except ValueError:
        raise FormError([f"{where}: {text!r} is not a time like 09:30"]) from None


def spans(text: str, where: str) -> list[tuple[str, str]]:
    """"09:00-12:00, 13:00-17:00" as [("09:00", "12:00"), ...]; blank: none."""
    found, problems = [], []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = SPAN.match(part)
        if not match:
            problems.append(f"{where}: {part!r} is not hours like 09:00-17:00")
            continue
        try:
            start, end = _clock(match[1], where), _clock(match[2], where)
        except FormError as error:
            problems.extend(error.problems)
            continue
        if end <= start:
            problems.append(f"{where}: {part} ends before it starts")
        found.append((start.isoformat("minutes"), end.isoformat("minutes")))
    if problems:
        raise FormError(problems)
    return found


def _day(text: str, where: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FormError([f"{where}: {text!r} is not a date like 2026-03-31"]) from None


def availability(form: Mapping[str, str]) -> dict:
    """The settings form (a field per weekday, date overrides and blackout days, one a line) as scheduling's
    Availability body."""
    problems: list[str] = []
    weekly, overrides, blackouts = [], {}, []
    for day, name in DAYS.items():
        try:
            weekly += [{"day": day.value, "start": s, "end": e} for s, e in spans(form.get(f"hours_{day}", ""), name)]
        except FormError as error:
            problems += error.problems
    for n, line in enumerate(form.get("date_overrides", "").splitlines(), 1):
        if not line.strip():
            continue
        day, _, hours = line.strip().partition(" ")
        try:
            overrides.setdefault(_day(day, f"Date overrides, line {n}"), []).extend(
                {"start": s, "end": e} for s, e in spans(hours, f"Date overrides, line {n}"))
        except FormError as error:
            problems += error.problems
    for n, line in enumerate(form.get("blackout_days", "").splitlines(), 1):
        if line.strip():
            try:
                blackouts.append(_day(line.strip(), f"Blackout days, line {n}"))
            except FormError as error:
                problems += error.problems
    if problems:
        raise FormError(problems)
    return {"weekly": weekly, "date_overrides": overrides, "blackout_days": blackouts}


def availability_fields(view: Mapping) -> dict[str, str]:
    """Scheduling's AvailabilityView as the settings form's fields."""
    fields = {f"hours_{day}": ", ".join(f"{w['start'][:5]}-{w['end'][:5]}" for w in view.get("weekly") or ()
                                        if w["day"] == day.value) for day in DAYS}
    fields["date_overrides"] = "\n".join(f"{day} " + ", ".join(f"{s[:5]}-{e[:5]}" for s, e in hours)
                                         for day, hours in sorted((view.get("date_overrides") or {}).items()))
    fields["blackout_days"] = "\n".join(sorted(view.get("blackout_days") or ()))
    return fields


def conferencing(form: Mapping[str, str]) -> dict:
    kind = form.get("kind", "")
    if kind == "video":
        return {"kind": kind, "url_template": form.get("url_template", "").strip()}
    if kind in ("phone", "callback"):
        return {"kind": kind, "phone": form.get("phone", "").strip()}
    raise FormError([f"Conferencing: choose video, phone bridge or callback, not {kind!r}"])


def objectives(form: Mapping[str, str]) -> list[dict]:
    """The objectives form: one row per issue of the shared vocabulary (a priority means the party raised it)."""
    found, problems = [], []
    for issue, label in ISSUES:
        priority = form.get(f"{issue}.priority", "").strip()
        if not priority:
            continue
        row = {"issue": issue, "wants": form.get(f"{issue}.wants", "").strip(),
               "stance": form.get(f"{issue}.stance", Stance.WANTS.value),
               "shareable": form.get(f"{issue}.shareable") == "on"}
        if not priority.isdigit() or not 1 <= int(priority) <= 10:
            problems.append(f"{label}: the priority must be a number from 1 (highest) to 10")
        else:
            row["priority"] = int(priority)
        if row["stance"] not in {s for s, _ in STANCES}:
            problems.append(f"{label}: choose what the party's stance is")
        if not row["wants"]:
            problems.append(f"{label}: say what the party wants on it")
        if issue == ObjectiveIssue.OTHER.value:
            row["free_issue"] = form.get(f"{issue}.free_issue", "").strip()
            if not row["free_issue"]:
                problems.append("Other: name the issue")
        found.append(row)
    if problems:
        raise FormError(problems)
    return found


def objective_fields(recorded: list[Mapping]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for objective in recorded:
        issue = objective["issue"]
        fields.update({f"{issue}.priority": str(objective["priority"]), f"{issue}.wants": objective.get("wants", ""),
                       f"{issue}.stance": objective.get("stance", "wants"),
                       f"{issue}.shareable": "on" if objective.get("shareable") else "",
                       f"{issue}.free_issue": objective.get("free_issue") or ""})
    return fields


def not_before(text: str, zone_name: str | None) -> str | None:
    """The reschedule form's "not before" date (the reader's zone, start of that day) as ISO 8601, or None."""
    if not text.strip():
        return None
    day = date.fromisoformat(_day(text.strip(), "Not before"))
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise FormError([f"Not before: {zone_name!r} is not a time zone"]) from None
    return datetime.combine(day, time(0), zone).isoformat()

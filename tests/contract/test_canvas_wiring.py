"""Each service's CANVAS.md cannot drift from its app.py: its wiring section is generated from the wiring, and its
prose names every type the service reads or publishes, and claims to publish none it does not."""

import re

import pytest

from mednet_shared.contracts import canvas
from mednet_shared.contracts.events import BY_TYPE
from mednet_shared.contracts.wiring import FIRM_OUTBOUND, SERVICES, published_on, wirings

NAMES = {model.__name__ for model in BY_TYPE.values()}


@pytest.fixture(scope="module")
def wired():
    return wirings()


@pytest.fixture(scope="module")
def sections(wired):
    published = published_on(wired)
    return {service: canvas.section(each, published) for service, each in wired.items()}


def named(text: str) -> set[str]:
    return set(re.findall(r"\b[A-Z][A-Za-z]+\b", text)) & NAMES


def row(text: str, title: str) -> str:
    """The hand-written table row that starts with `title`, '' if none."""
    return next((line for line in text.splitlines() if line.startswith(f"| {title}")), "")


@pytest.mark.parametrize("service", SERVICES)
def test_the_wiring_section_of_each_canvas_is_current(sections, service):
    text = canvas.path_of(service).read_text()
    assert canvas.BEGIN in text and canvas.with_section(text, sections[service]) == text, (
        f"services/{service}/CANVAS.md: its wiring section differs from app.py: run `mednet catalog export`")


@pytest.mark.parametrize("service", SERVICES)
def test_each_canvas_names_what_its_service_reads_and_publishes_and_no_more(wired, service):
    prose = canvas.prose(canvas.path_of(service).read_text())
    consumed = {m.__name__ for types in wired[service].consumed(published_on(wired)).values() for m in types}
    publishes = wired[service].publishes
    on_topics = {m.__name__ for topic, types in publishes.items() if topic != FIRM_OUTBOUND for m in types}
    published = {m.__name__ for types in publishes.values() for m in types}  # a firm's: the generated section's
    assert consumed - named(row(prose, "events in") + row(prose, "commands in")) == set(), "read but not described"
    assert on_topics - named(row(prose, "events out")) == set(), "published but not described"
    assert named(row(prose, "events out")) - published == set(), "described as published but not published"


def test_a_canvas_that_drifted_fails_both_checks(sections):
    text, generated = canvas.path_of("scheduling").read_text(), sections["scheduling"]
    stale = text.replace(generated, generated.replace("CallMissed, ", ""))
    assert stale != text and canvas.with_section(stale, generated) != stale
    assert "CallMissed" in named(row(canvas.prose(text), "events out"))
    assert "CallMissed" not in named(row(canvas.prose(text).replace("CallMissed, ", ""), "events out"))


def test_every_service_on_kafka_has_its_wiring_documented():
    on_kafka = {path.parents[1].name for path in canvas.SERVICES_DIR.glob("*/mednet_*/app.py")
                if "ServiceRuntime" in path.read_text()}
    assert on_kafka == set(SERVICES)

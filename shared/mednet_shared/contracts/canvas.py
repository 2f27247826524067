"""The wiring section of each service's CANVAS.md, generated from its app.py (`mednet catalog export` writes it;
tests/contract/test_canvas_wiring.py fails when it differs, or when the canvas's prose leaves out a type the service
reads or publishes)."""

from __future__ import annotations

from pathlib import Path

from .wiring import FIRM_INBOUND, Wiring, published_on, wirings

SERVICES_DIR = Path(__file__).resolve().parents[3] / "services"
BEGIN = "<!-- wiring: generated from app.py by `mednet catalog export`; do not edit -->"
END = "<!-- end of the generated wiring -->"


def path_of(service: str) -> Path:
    return SERVICES_DIR / service / "CANVAS.md"


def sections() -> dict[str, str]:
    all_wirings = wirings()
    published = published_on(all_wirings)
    return {service: section(each, published) for service, each in all_wirings.items()}


def section(wiring: Wiring, published: dict) -> str:
    rows = []
    for channel, types in wiring.consumed(published).items():
        passing = wiring.passing(channel)
        groups = ", ".join(f"`{group}`" for group in wiring.groups(channel))
        where = "every firm's inbound topic" if channel == FIRM_INBOUND else f"`{channel}`"
        rows.append(f"| reads {where} (group {groups}) | {_names(types)}"
                    + (f"; passes (another service's): {_names(passing)}" if passing else "") + " |")
    for topic, types in wiring.publishes.items():
        rows.append(f"| publishes `{topic}` | {_names(types)} |")
    return "\n".join([BEGIN, "## Wiring", "", "| | |", "|---|---|", *rows, END])


def with_section(text: str, generated: str) -> str:
    """The canvas with its wiring section replaced (appended when it has none)."""
    if BEGIN in text and END in text:
        before, _, rest = text.partition(BEGIN)
        return before + generated + rest.partition(END)[2]
    return text.rstrip("\n") + "\n\n" + generated + "\n"


def prose(text: str) -> str:
    """The canvas without its generated section."""
    before, _, rest = text.partition(BEGIN)
    return before + rest.partition(END)[2]


def export() -> list[Path]:
    written = []
    for service, generated in sections().items():
        path = path_of(service)
        path.write_text(with_section(path.read_text(), generated))
        written.append(path)
    return written


def _names(types) -> str:
    return ", ".join(model.__name__ for model in types)

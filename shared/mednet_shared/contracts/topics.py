"""Kafka topic names of the network."""

import re

FIRM_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class Topics:
    INTAKE = "mednet.intake.events"
    SCHEDULING = "mednet.scheduling.events"
    NOTES = "mednet.notes.events"
    NOTIFY = "mednet.notify.events"
    FIRM_INBOUND_PATTERN = r"mednet\.firm\.[a-z0-9][a-z0-9-]+\.inbound$"
    _FIRM_INBOUND = re.compile(r"mednet\.firm\.([a-z0-9][a-z0-9-]{1,62})\.inbound")

    @staticmethod
    def firm_inbound(firm_id: str) -> str:
        return f"mednet.firm.{_checked(firm_id)}.inbound"

    @staticmethod
    def firm_outbound(firm_id: str) -> str:
        return f"mednet.firm.{_checked(firm_id)}.outbound"

    @staticmethod
    def firm_of_inbound(topic: str) -> str | None:
        match = Topics._FIRM_INBOUND.fullmatch(topic)
        return match.group(1) if match else None

    @staticmethod
    def dead_letter(topic: str) -> str:
        return f"{topic}.dlq"

    @staticmethod
    def service_topics() -> list[str]:
        return [Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES, Topics.NOTIFY]


def _checked(firm_id: str) -> str:
    if not FIRM_ID_PATTERN.fullmatch(firm_id):
        raise ValueError(f"firm id {firm_id!r} must be 2-63 lowercase letters, digits or '-'")
    return firm_id

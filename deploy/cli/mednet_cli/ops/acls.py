"""Principals and ACLs of a secured cluster, derived from the services' wiring: one SCRAM user per service and per
firm, each with the least rights. A service reads what its app.py CONSUMES, writes what it PUBLISHES, reads a
firm's inbound topic when its settings have an inbound_topic_pattern, and writes a firm's outbound topic when its
app.py says PUBLISHES_TO_FIRMS."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from mednet_shared.contracts.topics import Topics

SERVICES = ("intake", "scheduling", "notes", "notify")


@dataclass(frozen=True)
class Wiring:
    service: str
    publishes: tuple[str, ...]
    consumes: tuple[str, ...]
    reads_firm_inbound: bool
    writes_firm_outbound: bool


@cache
def wiring(service: str) -> Wiring:
    """What mednet_<service>.app and its Settings declare (imported, never copied)."""
    app = importlib.import_module(f"mednet_{service}.app")
    settings = importlib.import_module(f"mednet_{service}.config").Settings
    return Wiring(service, tuple(app.PUBLISHES), tuple(getattr(app, "CONSUMES", ())),  # no CONSUMES: reads none
                  "inbound_topic_pattern" in settings.model_fields, bool(getattr(app, "PUBLISHES_TO_FIRMS", False)))


def firm_command_readers() -> list[str]:
    return [service for service in SERVICES if wiring(service).reads_firm_inbound]


def firm_outbound_writers() -> list[str]:
    return [service for service in SERVICES if wiring(service).writes_firm_outbound]


def service_user(service: str) -> str:
    return f"mednet-{service}"


def firm_user(firm_id: str) -> str:
    return f"firm-{firm_id}"


def group_prefix(firm_id: str) -> str:
    return f"mednet.firm.{firm_id}."


@dataclass(frozen=True)
class Acl:
    resource: str        # topic | group | cluster
    pattern: str         # literal | prefixed
    name: str
    user: str
    operation: str       # read | write | describe | create ...

    def line(self) -> str:
        return "\t".join(("acl-add", self.resource, self.pattern, self.name, f"User:{self.user}", self.operation))


def service_acls(service: str) -> list[Acl]:
    """Write what it publishes, read what it consumes and dead-letter into that topic's .dlq, use its own groups."""
    user, declared = service_user(service), wiring(service)
    acls = [Acl("topic", "literal", topic, user, "write") for topic in declared.publishes]
    acls.append(Acl("group", "prefixed", f"mednet-{service}", user, "read"))
    for topic in declared.consumes:
        acls += [Acl("topic", "literal", topic, user, "read"),
                 Acl("topic", "literal", Topics.dead_letter(topic), user, "write")]
    return acls


def firm_acls(firm_id: str) -> list[Acl]:
    """The firm writes its inbound topic, reads its outbound topic, and uses groups named mednet.firm.<id>.*;
    the services that read firm commands read and dead-letter that inbound topic, the one that answers firms
    writes the outbound topic."""
    user, inbound, outbound = firm_user(firm_id), Topics.firm_inbound(firm_id), Topics.firm_outbound(firm_id)
    readers = [service_user(service) for service in firm_command_readers()]
    return [Acl("topic", "literal", inbound, user, "write"),
            Acl("topic", "literal", outbound, user, "read"),
            Acl("group", "prefixed", group_prefix(firm_id), user, "read"),
            *(Acl("topic", "literal", inbound, reader, "read") for reader in readers),
            *(Acl("topic", "literal", Topics.dead_letter(inbound), reader, "write") for reader in readers),
            *(Acl("topic", "literal", outbound, service_user(s), "write") for s in firm_outbound_writers())]


def firm_topics(firm_id: str) -> list[str]:
    inbound = Topics.firm_inbound(firm_id)
    return [inbound, Topics.dead_letter(inbound), Topics.firm_outbound(firm_id)]


def service_topics() -> list[str]:
    return [name for topic in Topics.service_topics() for name in (topic, Topics.dead_letter(topic))]

"""What the intake service tests build on: the service on in-memory adapters, and its events as delivered."""

from __future__ import annotations

from datetime import UTC, datetime

from mednet_intake import api
from mednet_intake.config import Settings
from mednet_intake.handlers import FirmCommands
from mednet_intake.usecases import Intake
from mednet_intake.memory import MemoryCaseStore
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.events import Message
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.consumer import Incoming
from mednet_shared.platform.memory import api_app
from services_harness import jwt_settings

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.settings = Settings(**jwt_settings())
        self.store = MemoryCaseStore()
        self.intake = Intake(self.store, clock=lambda: NOW)
        self.commands = FirmCommands(self.intake)
        self.app = api_app(self.settings, [api.router])
        self.app.state.intake = self.intake



def command(firm: str, type_: type[Message], data: dict, event_id: str = "cmd-1") -> tuple[CloudEvent, str]:
    """A firm's command as its inbound topic delivers it: (event, topic)."""
    event = CloudEvent(id=event_id, type=type_.type_name(), source=f"/firms/{firm}", subject="x", time=NOW, data=data)
    return event, Topics.firm_inbound(firm)


def incoming(event: CloudEvent, topic: str) -> Incoming:
    return Incoming(event=event, message=event.payload(), topic=topic, partition=0, offset=0)

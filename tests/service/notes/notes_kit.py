"""What the notes service tests build on: the service on in-memory adapters, and its events as delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mednet_intake.domain import open_case, parse_submission
from mednet_notes import api
from mednet_notes.config import Settings
from mednet_notes.handlers import NotesHandlers
from mednet_notes.usecases import Notes
from mednet_notes.memory import MemoryNotesStore
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CallScheduled, CaseOpened, Message
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Attendee
from mednet_shared.platform.consumer import Incoming
from mednet_shared.platform.memory import api_app
from sample_cases import submission
from services_harness import TEST_NOTES_KEY, jwt_settings

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.settings = Settings(encryption_key=TEST_NOTES_KEY, **jwt_settings())
        self.store = MemoryNotesStore()
        self.notes = Notes(self.store, self.settings.key_ring(), clock=lambda: NOW)
        self.handlers = NotesHandlers(self.notes)
        self.app = api_app(self.settings, [api.router])
        self.app.state.notes = self.notes



def delivered(message: Message) -> Incoming:
    """An event of intake or scheduling as notes' consumer hands it to a handler."""
    topic = Topics.INTAKE if type(message).__name__.startswith("Case") else Topics.SCHEDULING
    return Incoming(event=new_event(message, "/tests"), message=message, topic=topic, partition=0, offset=0)


def opened(reference: str = "ref-1", mediator_id: str = "med-ada", parties: int = 2) -> CaseOpened:
    document = submission(reference, mediator_id=mediator_id, parties=parties, now=NOW)
    return open_case("firm-x", parse_submission(document), NOW).opened()


def scheduled(case: CaseOpened, party_id: str, kind: type[CallScheduled] = CallScheduled, **extra):
    """Scheduling's event about the party's call, as notes reads it."""
    start = case.session.start - timedelta(days=3)
    attendees = [Attendee(kind="mediator", name="M", email=case.mediator.email, time_zone="UTC"),
                 Attendee(kind="party", name="P", email="p@parties.example.org", time_zone="UTC")]
    return kind(call_id=f"{case.case_id}:{party_id}", case_id=case.case_id, party_id=party_id,
                mediator_id=case.mediator.mediator_id, sequence=0, start=start, end=start + timedelta(minutes=45),
                attendees=attendees, participant_firms=case.participant_firms, **extra)

"""Helpers of the scheduling service tests: a fixed clock (2026-03-02, a Monday) and cases from the tests' sample
submissions, delivered to the handlers as the consumer would."""

from __future__ import annotations

from datetime import UTC, datetime

from mednet_scheduling.memory_store import MemorySchedulingStore
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CaseOpened, ChooseCallSlot, Message
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Side
from mednet_shared.platform.consumer import Incoming
from sample_cases import submission

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FIRM, MEDIATOR = "firm-main", "med-ada"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def a_case(ref: str = "ref-1", parties: int = 2, days_ahead: int = 21, **changes) -> CaseOpened:
    document = submission(ref, parties=parties, mediator_id=MEDIATOR, days_ahead=days_ahead, now=NOW)
    firms = [FIRM] + [p["attorney"]["firm_id"] for p in document["parties"]]
    return CaseOpened(case_id=f"case-{ref}", firm_id=FIRM, participant_firms=firms, **(document | changes))


def sides(case: CaseOpened, **statuses: str) -> list[Side]:
    """Each party's side (its attorney's firm), confirmed unless named: sides(case, p2="awaiting_confirmation")."""
    return [Side(party_id=p.party_id, role=p.role, firm_id=p.attorney.firm_id if p.attorney else None,
                 status=statuses.get(p.party_id, "confirmed"), since=NOW) for p in case.parties]


def with_sides(case: CaseOpened, **statuses: str) -> CaseOpened:
    """The case with sides; participant_firms: the submitter and the confirmed sides' firms."""
    chosen = sides(case, **statuses)
    firms = [FIRM] + [s.firm_id for s in chosen if s.status == "confirmed" and s.firm_id]
    return case.model_copy(update={"sides": chosen, "participant_firms": firms})


def delivered(message: Message, topic: str = Topics.INTAKE, firm: str | None = FIRM) -> Incoming:
    return Incoming(event=new_event(message, "/mednet/intake", firm_id=firm), message=message, topic=topic,
                    partition=0, offset=0)


def types(store: MemorySchedulingStore) -> list[str]:
    return [event.type.split(".")[1] for event in store.events()]


async def choose_first(handlers, case_id: str | None = None) -> int:
    """Each open offer's side chooses its first slot, as a firm would: ChooseCallSlot on its own inbound topic (an
    unrepresented side's by the case's mediator). Returns how many were chosen."""
    from mednet_scheduling.domain.offers import MEDIATOR as BY_MEDIATOR
    from mednet_scheduling.store import CALENDARS
    from mednet_scheduling.usecases import Cause

    store, chosen = handlers.scheduler.store, 0
    for mediator_id in list(store.documents[CALENDARS]):
        for offer in (await store.calendar(mediator_id)).offers.open_offers():
            if case_id is not None and offer.case_id != case_id:
                continue
            command = ChooseCallSlot(case_id=offer.case_id, party_id=offer.party_id, offer_id=offer.offer_id,
                                     slot_id=offer.slots[0].slot_id)
            if offer.side_firm_id:
                await handlers.choose_or_decline_slots(delivered(command, Topics.firm_inbound(offer.side_firm_id),
                                                                 offer.side_firm_id))
            else:
                await handlers.scheduler.choose(offer.case_id, offer.party_id, offer.offer_id,
                                                offer.slots[0].slot_id, Cause(), sender=BY_MEDIATOR)
            chosen += 1
    return chosen

"""The consent flow from a firm's side on the real stack: wait for a party's CallSlotsOffered on
mednet.scheduling.events and choose (by default) its first slot: ChooseCallSlot on the firm's own inbound topic, or
over HTTP with the firm's token."""

from __future__ import annotations

from collections.abc import Iterable

from kafka_helpers import as_record, command, event_of, produce, read, wait_for
from mednet_shared.contracts.events import CallSlotsOffered
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from services_harness import client


async def offer_for(kafka: str, case_id: str, party_id: str, seen: Iterable[str] = (),
                    timeout: float = 40) -> CallSlotsOffered:
    """The party's newest CallSlotsOffered whose offer id is not among `seen`."""
    skip, found = set(seen), []

    async def offered() -> bool:
        records = await read(kafka, Topics.SCHEDULING, 10**6, timeout=1.5)
        events = [event_of(r) for r in records if r.key == case_id.encode()]   # keyed by subject
        found[:] = [e.payload() for e in events if e.subject == case_id and e.type == CallSlotsOffered.type_name()
                    and e.payload().party_id == party_id and e.payload().offer_id not in skip]
        return bool(found)

    await wait_for(offered, timeout=timeout, interval=0.5)
    return found[-1]


async def choose_first(kafka: str, firm: str, case_id: str, party_id: str, slot: int = 0,
                       seen: Iterable[str] = ()) -> CallSlotsOffered:
    """The firm chooses the party's offered slot (the first by default) on its inbound topic; returns the offer."""
    offer = await offer_for(kafka, case_id, party_id, seen)
    choice = command({"case_id": case_id, "party_id": party_id, "offer_id": offer.offer_id,
                      "slot_id": offer.slots[slot].slot_id}, "mednet.ChooseCallSlot.v1")
    await produce(kafka, Topics.firm_inbound(firm), [as_record(choice)])
    return offer


async def choose_first_http(kafka: str, scheduling_app, firm: str, case_id: str, party_id: str, slot: int = 0,
                            seen: Iterable[str] = ()) -> tuple[CallSlotsOffered, dict]:
    """The same over HTTP with the firm's token; returns the offer and the call as the API answers it."""
    offer = await offer_for(kafka, case_id, party_id, seen)
    async with client(scheduling_app, Role.FIRM, firm_id=firm) as http:
        answer = await http.post(f"/v1/offers/{offer.offer_id}/choose", json={"slot_id": offer.slots[slot].slot_id})
    assert answer.status_code == 200, answer.text
    return offer, answer.json()

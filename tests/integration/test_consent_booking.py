"""Booking with the side's consent on the real stack (Kafka, the MongoDB-wire server, scheduling and notify, a
real SMTP sink): three sides of one case are offered slots; the email lists them in each reader's own zone; each side
chooses by another path (Kafka, HTTP with its firm token, the signed link of its email) and gets its invitation with
its place; a decline with proposals makes a new offer inside them; an iTIP DECLINED reply through notify's SMTP
listener makes a new offer; with no answer by the deadline the scheduler's sweep books the first slot. Then two
scheduling instances offer and book concurrently for one mediator: no two holds or bookings overlap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import holidays
import httpx

from integration.test_notify_replies import reply_mail, send
from kafka_helpers import as_record, command, events_of, new_topic, produce, wait_for
from mednet_notify.messages import local_span_text
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CaseOpened
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Side
from mednet_shared.platform.auth import Role
from offers_helpers import choose_first, choose_first_http, offer_for
from receivers import SmtpServer
from sample_cases import submission
from services_harness import client, running, settings_for
from unit.notify.test_replies import reply_ics


def working_day_after(moment: datetime) -> datetime:
    """The next day after moment that is neither a weekend nor a public holiday of the mediator (DE) or the party
    (GB): a proposal on a Saturday holds no slot, whatever day the test runs."""
    closed = holidays.country_holidays("DE") + holidays.country_holidays("GB")
    day = moment + timedelta(days=1)
    while day.weekday() >= 5 or day.date() in closed:
        day += timedelta(days=1)
    return day


def a_case(unique: str, ref: str, parties: int, mediator_id: str) -> CaseOpened:
    document = submission(f"{ref}-{unique}", parties=parties, mediator_id=mediator_id, days_ahead=21, tag=unique)
    firms = []
    for n, party in enumerate(document["parties"]):
        party["attorney"]["firm_id"] = f"firm-{'abcd'[n]}{unique}"[:40]
        firms.append(party["attorney"]["firm_id"])
    now = datetime.now(UTC)
    sides = [Side(party_id=p["party_id"], role=p["role"], firm_id=p["attorney"]["firm_id"], status="confirmed",
                  since=now, confirmed_by="firm") for p in document["parties"]]
    return CaseOpened(case_id=f"case-{ref}-{unique}", firm_id=firms[0], participant_firms=firms, sides=sides,
                      **document)


async def opened(kafka: str, case: CaseOpened) -> None:
    record = new_event(case, "/mednet/intake", firm_id=case.firm_id).to_record(Topics.INTAKE)
    await produce(kafka, Topics.INTAKE, [(record.key, record.value,
                                          [(key, value.encode()) for key, value in record.headers.items()])])


def texts(message) -> list[str]:
    """Every text part of a mail, decoded, folded lines unfolded."""
    return [part.get_payload(decode=True).decode().replace("\r\n ", "") for part in message.walk()
            if not part.is_multipart()]


async def ours(kafka: str, case_id: str, expected: int) -> list:
    """This test's bookings: by a choice or a deadline (a scheduler of another test running at the same time on
    the shared broker may book the same case the old way, booked_by "system"; it never answers an offer)."""
    found: list = []

    async def enough() -> bool:
        events = await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 0, timeout=5)
        found[:] = list({e.id: e.payload() for e in events if e.payload().booked_by != "system"}.values())
        return len(found) >= expected

    await wait_for(enough, timeout=40, interval=0.5)
    return found


async def test_the_consent_flow_end_to_end(infrastructure, kafka, unique):
    mediator_id = f"med-{unique}"
    case = a_case(unique, "consent", 3, mediator_id)
    p1, p2, p3 = case.parties
    firm = {p.party_id: p.attorney.firm_id for p in case.parties}
    for name in firm.values():
        await new_topic(kafka, Topics.firm_inbound(name))
    with SmtpServer() as smtp:
        notify_settings = settings_for("notify", infrastructure, unique, smtp_port=smtp.port,
                                       inbound_smtp_host="127.0.0.1", inbound_smtp_port=0)
        async with running("scheduling", settings_for("scheduling", infrastructure, unique)) as scheduling, \
                running("notify", notify_settings) as notify:
            async with client(scheduling, Role.MEDIATOR, mediator_id=mediator_id) as mediator:
                assert (await mediator.put(f"/v1/mediators/{mediator_id}/conferencing", json={
                    "kind": "video", "url_template": "https://meet.example.org/{room}"})).status_code == 200
            await opened(kafka, case)

            # the offer, and its email in each reader's own zone, with a link per slot
            first = {p.party_id: await offer_for(kafka, case.case_id, p.party_id) for p in case.parties}
            assert all(len(o.slots) == 3 and o.side_firm_id == firm[o.party_id] for o in first.values())
            for reader, zone in ((p1.contact.email, p1.time_zone),
                                 (p1.attorney.email, p1.attorney.time_zone or p1.time_zone)):
                text = await wait_for(lambda reader=reader: next(
                    (texts(m)[0] for m in smtp.mailbox.to(reader) if m["Subject"].startswith("Choose a time")), None),
                    timeout=30)
                for slot in first["p1"].slots:
                    assert local_span_text(slot.start, slot.end, zone) in text
                assert "/v1/offers/choose?token=" in text
            assert not any(first["p2"].offer_id in m.as_string() for m in smtp.mailbox.to(p1.contact.email))

            # p1 declines with proposals (Kafka): a new offer inside them
            day = working_day_after(first["p1"].slots[-1].start)
            proposal = {"start": day.replace(hour=0, minute=0).isoformat(),
                        "end": day.replace(hour=23, minute=59).isoformat()}
            await produce(kafka, Topics.firm_inbound(firm["p1"]), [as_record(command(
                {"case_id": case.case_id, "party_id": "p1", "offer_id": first["p1"].offer_id,
                 "proposals": [proposal]}, "mednet.DeclineCallSlots.v1"))])
            second = await offer_for(kafka, case.case_id, "p1", seen=[first["p1"].offer_id])
            assert all(s.start.date() in (day.date(), (day + timedelta(days=1)).date()) for s in second.slots)

            # a choice by each path: Kafka (p1), HTTP (p2), the signed link (p3: GET confirms, POST books)
            await choose_first(kafka, firm["p1"], case.case_id, "p1", seen=[first["p1"].offer_id])
            _, call = await choose_first_http(kafka, scheduling, firm["p2"], case.case_id, "p2")
            assert call["status"] == "scheduled"
            link = urlparse(first["p3"].slots[1].choose_url)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=scheduling),
                                         base_url="http://scheduling.test") as browser:
                page = await browser.get(link.path, params=dict([link.query.split("=", 1)]))
                assert page.status_code == 200 and "Confirm" in page.text
                done = await browser.post(link.path, params=dict([link.query.split("=", 1)]))
                assert done.status_code == 200, done.text
            scheduled = await ours(kafka, case.case_id, 3)
            chosen = {c.party_id: c for c in scheduled}
            assert chosen["p1"].start == second.slots[0].start and chosen["p3"].start == first["p3"].slots[1].start
            assert {c.booked_by for c in chosen.values()} == {"choice"}
            rooms = {c.place.url for c in chosen.values()}
            assert len(rooms) == 3 and all(url.startswith("https://meet.example.org/") for url in rooms)

            # the invitation carries the place
            url = chosen["p2"].place.url
            parts = await wait_for(lambda: next((texts(m) for m in smtp.mailbox.to(p2.contact.email)
                                                 if any("BEGIN:VCALENDAR" in t and url in t for t in texts(m))),
                                                None), timeout=30)
            calendar_part = next(text for text in parts if "BEGIN:VCALENDAR" in text)
            assert f"LOCATION:Video call: {url}" in calendar_part and f"URL:{url}" in calendar_part
            assert all(url in text for text in parts), "the place is in the letter as well"

            # an iTIP DECLINED reply by mail (notify's SMTP listener): the booking is released, a new offer made
            port = notify.state.inbound_smtp.port
            mail = reply_mail(p1.contact.email, reply_ics(uid=chosen["p1"].call_id, attendee=p1.contact.email,
                                                          sequence=chosen["p1"].sequence))
            # on the wire with CRLF, as a mail client sends it (smtplib sends bytes as they are: bare LFs would make
            # one line of the whole message, refused past 1000 bytes)
            mail = mail.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            answer = await asyncio.to_thread(send, port, p1.contact.email, mail)
            assert answer == (250, "ok"), answer
            await events_of(kafka, Topics.SCHEDULING, case.case_id, "CallCancelled", 1)
            third = await offer_for(kafka, case.case_id, "p1", seen=[first["p1"].offer_id, second.offer_id])
            assert chosen["p1"].start not in {s.start for s in third.slots}

            # no answer by the deadline: the sweep (the scheduler's clock moved past it) books the first slot
            scheduler = scheduling.state.scheduler
            scheduler.clock = lambda: third.expires_at + timedelta(seconds=1)
            assert await scheduler.sweep() >= 1
            deadline = await ours(kafka, case.case_id, 4)
            by_deadline = [c for c in deadline if c.booked_by == "deadline"]
            assert [(c.party_id, c.start) for c in by_deadline] == [("p1", third.slots[0].start)]
            listed = (await (client(scheduling, Role.MEDIATOR, mediator_id=mediator_id)).get(
                f"/v1/cases/{case.case_id}/calls")).json()
            assert {c["party_id"]: c["status"] for c in listed["calls"]} == dict.fromkeys(("p1", "p2", "p3"),
                                                                                            "scheduled")


async def test_two_scheduling_instances_offering_and_booking_for_one_mediator_never_overlap(infrastructure, kafka,
                                                                                            unique):
    """Both instances consume the cases (one group: the partitions split between them) and the sides' choices (on
    Kafka, and over each instance's HTTP API at once): no two holds or bookings of the mediator overlap."""
    mediator_id = f"med-{unique}"
    cases = [a_case(unique, f"race{n}", 2, mediator_id) for n in range(5)]
    for case in cases:
        for party in case.parties:
            await new_topic(kafka, Topics.firm_inbound(party.attorney.firm_id))
    settings = settings_for("scheduling", infrastructure, unique)
    async with running("scheduling", settings) as one, running("scheduling", settings, from_now=False) as two:
        await asyncio.gather(*(opened(kafka, case) for case in cases))
        store = one.state.scheduler.store

        async def all_offered():
            calendar = await store.calendar(mediator_id)
            return calendar if len(calendar.offers.open_offers()) == 10 else None

        calendar = await wait_for(all_offered, timeout=60, interval=0.3)
        assert no_overlap(calendar, cases[0].mediator.buffer_minutes)

        async def choose(n, offer):
            if n % 2:
                await produce(kafka, Topics.firm_inbound(offer.side_firm_id), [as_record(command(
                    {"case_id": offer.case_id, "party_id": offer.party_id, "offer_id": offer.offer_id,
                     "slot_id": offer.slots[-1].slot_id}, "mednet.ChooseCallSlot.v1"))])
            else:
                async with client((one, two)[n % 4 // 2], Role.FIRM, firm_id=offer.side_firm_id) as http:
                    answer = await http.post(f"/v1/offers/{offer.offer_id}/choose",
                                             json={"slot_id": offer.slots[-1].slot_id})
                    assert answer.status_code == 200, answer.text

        await asyncio.gather(*(choose(n, offer) for n, offer in enumerate(calendar.offers.open_offers())))

        async def all_booked():
            calendar = await store.calendar(mediator_id)
            return calendar if len(calendar.calls) == 10 else None

        calendar = await wait_for(all_booked, timeout=60, interval=0.3)
        assert calendar.offers.holds() == [] and no_overlap(calendar, cases[0].mediator.buffer_minutes)
        for case in cases:
            assert len(await ours(kafka, case.case_id, 2)) == 2


def no_overlap(calendar, buffer_minutes: int) -> bool:
    spans = sorted([(b.start, b.end) for b in calendar.calls.values()]
                   + [(h.start, h.end) for h in calendar.offers.holds()])
    return all(a[1] + timedelta(minutes=buffer_minutes) <= b[0] for a, b in zip(spans, spans[1:]))

"""`mednet demo`: the whole story on the local stack, as two firms and a mediator would live it.

Sides are confirmed (a named firm accepts its party), each side is offered times and chooses one (over Kafka, over
HTTP, by the signed link of its email), the calls are booked with their rooms, the sides prepare (a statement with a
document for the mediator's eyes only, the readiness checklist), the mediator holds the calls and records their
outcomes, and the brief is built. Each step is printed as it happens; a step that does not happen stops the demo with
an error naming it.
"""

from __future__ import annotations

import asyncio
import base64
import email
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import UNKNOWN_KID_COOLDOWN_SECONDS, Role

from . import fleet, samples
from .dev import console_login
from .processes import free_port
from .smtp_sink import read_mail
from .stack import Stack
from .tokens import Issuer

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat")
CONFERENCING = {"kind": "video", "url_template": "https://meet.example.org/ada-okafor/{room}"}
FIRM_ITEMS = ("agreement_signed", "attendees_named")
DOCUMENT = b"Position paper of Brightline Logistics: the dismissal followed two written warnings (Annex 1, 2)."


class StepFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Cast:
    """Who plays: two firms and a mediator (a test gives them names of its own)."""

    harbor: str = "harbor-law"
    meridian: str = "meridian-legal"
    mediator: str = "med-ada-okafor"


@dataclass
class Side:
    """How one party's side goes through the story."""

    party_id: str
    choice: str = ""                  # kafka | http | link; "" when the call is waived
    waived: str = ""                  # the mediator's reason
    objectives: list[dict] = field(default_factory=list)
    outcome: dict = field(default_factory=lambda: {"outcome": "held", "items_confirmed": ["authority_confirmed"]})


def party(party_id: str, role: str, name: str, zone: str, firm: str, counsel: str,
          hours: tuple[str, str] = ("08:00", "19:00")) -> dict:
    return samples.party(party_id, role, zone, firm, f"{name.lower().replace(' ', '.')}@clients.example.org",
                         name=name, counsel=counsel, counsel_address=f"{counsel.split()[0].lower()}@{firm}.example.org",
                         availability=samples.hours(*hours, WEEKDAYS))


def case(cast: Cast, reference: str, title: str, parties: list[dict], days_ahead: int) -> dict:
    return samples.case(reference, parties, title=title, session_hours=7, zone="Europe/London",
                        start=samples.session_start(None, days_ahead, hour=9),
                        mediator=samples.mediator(cast.mediator, "Ada Okafor", email="ada.okafor@mediators.example.org",
                                                  zone="Europe/London", working_hours=samples.hours("08:30", "18:00")),
                        policy={"call_minutes": 45, "minimum_notice_hours": 2, "preparation_lead_hours": 48})


def story(cast: Cast) -> dict[str, tuple[str, dict, dict[str, Side]]]:
    """Case key -> (submitting firm, submission, each side's part)."""
    a = case(cast, f"HL-{uuid.uuid4().hex[:6]}", "Okonkwo v. Brightline Logistics (wrongful dismissal)", [
        party("claimant", "claimant", "Chidi Okonkwo", "Europe/London", cast.harbor, "Priya Raman"),
        party("respondent", "respondent", "Brightline Logistics", "Asia/Kolkata", cast.meridian, "Marcus Webb"),
    ], days_ahead=10)
    b = case(cast, f"ML-{uuid.uuid4().hex[:6]}", "Halvorsen Supply v. Tasman Retail (supply contract)", [
        party("supplier", "claimant", "Halvorsen Supply", "America/St_Johns", cast.meridian, "Marcus Webb"),
        party("retailer", "respondent", "Tasman Retail", "Australia/Lord_Howe", cast.harbor, "Priya Raman",
              hours=("16:00", "22:00")),
        party("insurer", "other", "Northwind Insurance", "America/New_York", cast.meridian, "Lena Ortiz"),
    ], days_ahead=14)
    return {
        "A": (cast.harbor, a, {s.party_id: s for s in (
            Side("claimant", "kafka", objectives=[
                {"issue": "payment_amount", "wants": "compensation for lost wages", "priority": 1,
                 "amount": {"minimum": 45000, "currency": "GBP"}},
                {"issue": "reference", "wants": "a neutral reference letter", "priority": 2, "shareable": True},
                {"issue": "confidentiality", "wants": "no public statement", "priority": 4, "shareable": True},
                {"issue": "apology", "wants": "a written apology", "priority": 3}]),
            Side("respondent", "http", objectives=[
                {"issue": "payment_amount", "wants": "settle below 30k", "stance": "willing", "priority": 2,
                 "amount": {"maximum": 30000, "currency": "GBP"}},
                {"issue": "reference", "wants": "can provide a factual reference", "stance": "willing",
                 "priority": 8},
                {"issue": "confidentiality", "wants": "strict confidentiality clause", "priority": 1,
                 "shareable": True}]))}),
        "B": (cast.meridian, b, {s.party_id: s for s in (
            Side("supplier", "link", objectives=[
                {"issue": "payment_timing", "wants": "outstanding invoices paid in 30 days", "priority": 1},
                {"issue": "future_relationship", "wants": "keep the supply contract", "priority": 2,
                 "shareable": True}]),
            Side("retailer", "kafka", objectives=[
                {"issue": "payment_timing", "wants": "instalments over 6 months", "priority": 2},
                {"issue": "future_relationship", "wants": "continue with better terms", "priority": 3,
                 "shareable": True},
                {"issue": "costs", "wants": "each side bears its own costs", "priority": 4}],
                 outcome={"outcome": "partly_held", "next_step": "the board confirms Tasman's settlement authority"}),
            Side("insurer", waived="Northwind takes part through the supplier's counsel; no call of its own"))}),
    }


PRIVATE = {"concerns": "the demo's private concern (stays in the notes service)", "dynamics": "tense but open",
           "rapport": "good", "settlement_range": "private range", "free_text": "never leaves notes"}
STATEMENTS = {
    ("A", "respondent"): {"interests": "close the matter without admitting liability",
                          "concerns": "precedent for other staff", "desired_outcomes": "a confidential settlement",
                          "questions": "can the reference be agreed before the session?"},
    ("B", "retailer"): {"interests": "keep the shelves stocked", "desired_outcomes": "instalments and a new price"},
}


class Webhooks:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                owner.received.append({"path": self.path, "signature": self.headers.get("webhook-signature", ""),
                                       "event": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Listener:
    """Every event of the demo's cases on the services' topics, from the moment the demo starts."""

    def __init__(self, kafka: str, case_ids: set[str]) -> None:
        self.kafka, self.keys = kafka, {c.encode() for c in case_ids}
        self.seen: list[tuple[str, CloudEvent]] = []

    async def __aenter__(self) -> Listener:
        from aiokafka import AIOKafkaConsumer

        self.consumer = AIOKafkaConsumer(*Topics.service_topics(), bootstrap_servers=self.kafka, group_id=None,
                                         enable_auto_commit=False, auto_offset_reset="latest")
        await self.consumer.start()
        deadline = time.monotonic() + 30
        while len({tp.topic for tp in self.consumer.assignment()}) < len(Topics.service_topics()):
            if time.monotonic() > deadline:
                raise StepFailed("the demo could not read the services' topics")
            await self.consumer.getmany(timeout_ms=200)
        for partition in self.consumer.assignment():
            await self.consumer.position(partition)   # from here on, nothing of the demo's cases is missed
        self.task = asyncio.create_task(self.poll())
        return self

    async def poll(self) -> None:
        while True:
            for records in (await self.consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    if record.key in self.keys:
                        try:
                            self.seen.append((record.topic, CloudEvent.from_bytes(record.value)))
                        except EnvelopeError:
                            pass

    async def __aexit__(self, *_) -> None:
        self.task.cancel()
        await self.consumer.stop()

    def of(self, case_id: str, kind: str, party_id: str | None = None, where=lambda _: True) -> list:
        return [e.payload() for _, e in self.seen if e.subject == case_id and e.type == f"mednet.{kind}.v1"
                and (party_id is None or getattr(e.payload(), "party_id", None) == party_id) and where(e.payload())]


class Demo:
    def __init__(self, data_dir: Path, console: Console, *, cast: Cast = Cast(), kafka: str | None = None,
                 urls: dict[str, str] | None = None, replication: int | None = None) -> None:
        self.data_dir, self.console, self.cast = data_dir, console, cast
        self.urls = urls or {name: f"http://127.0.0.1:{port}" for name, port in fleet.SERVICES.items()}
        self.tokens = Issuer(data_dir)
        if [firm for firm in (cast.harbor, cast.meridian) if self.tokens.ensure_firm(firm)]:
            time.sleep(UNKNOWN_KID_COOLDOWN_SECONDS)  # services that read the JWKS just now look again after this
        if kafka is None:
            stack = Stack(data_dir)
            kafka, replication = stack.bootstrap, stack.brokers
        self.kafka, self.replication = kafka, replication or 1
        self.mail_before = len(read_mail(fleet.mail_dir(data_dir)))
        self.story = story(cast)
        from mednet_intake.domain import case_id_for

        self.ids = {key: case_id_for(firm, document["external_ref"]) for key, (firm, document, _) in self.story.items()}

    # -- the steps -------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        """Tell the story; returns what each step saw (offers, their emails, calls, readiness, briefs)."""
        hooks, self.result = Webhooks(), {}
        async with httpx.AsyncClient(timeout=30) as http, Listener(self.kafka, set(self.ids.values())) as events:
            self.http, self.events = http, events
            await self.prepare_the_stage(hooks)
            await self.submit()
            await self.confirm_sides()
            offers = await self.offers()
            await self.waive()
            await self.choose(offers)
            calls = await self.booked()
            await self.statements()
            await self.readiness()
            await self.hold(calls)
            await self.briefs()
            await asyncio.sleep(2)
            self.epilogue(hooks)
        return self.result

    def step(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    async def prepare_the_stage(self, hooks: Webhooks) -> None:
        self.step("1. the firms register their webhooks; the mediator sets a video room for her calls")
        for firm in (self.cast.harbor, self.cast.meridian):
            await self.call("post", "notify", "/v1/webhooks", Role.FIRM, firm_id=firm,
                            json={"url": f"{hooks.url}/{firm}"})
        await self.call("put", "scheduling", f"/v1/mediators/{self.cast.mediator}/conferencing", Role.MEDIATOR,
                        mediator_id=self.cast.mediator, json=CONFERENCING)
        self.console.print(f"  webhooks at {hooks.url}; conferencing {CONFERENCING['url_template']}")

    async def submit(self) -> None:
        self.step("2. two cases are submitted")
        harbor, a, _ = self.story["A"]
        await self.call("post", "intake", "/v1/cases", Role.FIRM, firm_id=harbor, json=a)
        meridian, b, _ = self.story["B"]
        await self.send_on_kafka(meridian, samples.submit_case(meridian, b))
        for key, (firm, document, _) in self.story.items():
            await self.until(f"case {key} opened", lambda key=key: self.events.of(self.ids[key], "CaseOpened"))
            how = "over HTTP" if key == "A" else "on its Kafka inbound topic"
            self.console.print(f"  case {key} ({self.ids[key]}): {document['title']}, by {firm} {how}")

    async def confirm_sides(self) -> None:
        self.step("3. side confirmation: each firm named for a party of another firm's case accepts it")
        for key, (firm, _, _) in self.story.items():
            for side in (await self.call("get", "intake", f"/v1/cases/{self.ids[key]}", Role.FIRM,
                                         firm_id=firm))["sides"]:
                if side["status"] == "awaiting_confirmation" and side.get("firm_id"):
                    await self.send_on_kafka(side["firm_id"], samples.accept_representation(
                        side["firm_id"], self.ids[key], side["party_id"]))
                    self.console.print(f"  case {key}: {side['firm_id']} accepts representing {side['party_id']} "
                                       f"(AcceptRepresentation; awaited since {side['since'][:19]})")
                else:
                    self.console.print(f"  case {key}: {side['party_id']} {side['status']} at submission "
                                       f"({side.get('firm_id')})")
            await self.until(f"every side of case {key} confirmed", lambda key=key, firm=firm: self.all_confirmed(
                self.ids[key], firm))

    async def all_confirmed(self, case_id: str, firm: str) -> bool:
        view = await self.found("intake", f"/v1/cases/{case_id}", Role.FIRM, firm_id=firm) or {}
        return bool(view) and all(side["status"] == "confirmed" for side in view.get("sides", []))

    async def offers(self) -> dict[tuple[str, str], Any]:
        self.step("4. offers: each confirmed side is offered times (CallSlotsOffered) and emailed them in its zone")
        offers = {}
        for key, (_, document, sides) in self.story.items():
            for party_id in sides:
                offers[key, party_id] = (await self.until(
                    f"CallSlotsOffered for case {key} {party_id}",
                    lambda key=key, p=party_id: self.events.of(self.ids[key], "CallSlotsOffered", p, self.ours)))[-1]
        table = Table(title="offers (UTC) and each reader's own email")
        for column in ("case", "side", "slots (UTC)", "expires", "emailed to", "first option as the email gives it"):
            table.add_column(column)
        for (key, party_id), offer in offers.items():
            mails = await self.until(f"the offer emails of case {key} {party_id}",
                                     lambda offer=offer: self.offer_mails(offer))
            slots = ", ".join(f"{s.start:%a %d %H:%M}" for s in offer.slots)
            for n, (to, text) in enumerate(mails):
                first = next(line for line in text.splitlines() if line.startswith("1. "))
                self.result.setdefault("offer_mails", {}).setdefault((key, party_id), []).append((to, first[3:]))
                table.add_row(key if not n else "", party_id if not n else "", slots if not n else "",
                              f"{offer.expires_at:%a %d %H:%M}" if not n else "", to, first[3:])
        self.console.print(table)
        self.result["offers"] = offers
        return offers

    def ours(self, offer) -> bool:
        """An offer of the demo's own scheduling (its links lead there)."""
        return all((slot.choose_url or "").startswith(self.urls["scheduling"] + "/") for slot in offer.slots)

    def offer_mails(self, offer) -> list[tuple[str, str]] | None:
        """(recipient, text) of the offer's email to each of its side's people; None until every one arrived."""
        people = {a.email.lower() for a in offer.attendees if a.kind in ("party", "attorney")}
        found = {to: text for to, subject, text in self.mails()
                 if subject.startswith("Choose a time") and to in people and self.lists(text, offer)}
        return sorted(found.items()) if set(found) == people else None

    @staticmethod
    def lists(text: str, offer) -> bool:
        return all(slot.choose_url is None or slot.choose_url in text for slot in offer.slots)

    async def waive(self) -> None:
        for key, (_, _, sides) in self.story.items():
            for side in sides.values():
                if side.waived:
                    self.step(f"5. the mediator waives the call of case {key} {side.party_id}")
                    await self.call("post", "scheduling", f"/v1/calls/{self.ids[key]}:{side.party_id}/waive",
                                    Role.MEDIATOR, mediator_id=self.cast.mediator, json={"reason": side.waived})
                    await self.until(f"CallWaived of case {key} {side.party_id}",
                                     lambda key=key, p=side.party_id: self.events.of(self.ids[key], "CallWaived", p))
                    self.console.print(f"  CallWaived: {side.waived}")

    async def choose(self, offers: dict) -> None:
        self.step("6. each side chooses: its firm over Kafka or HTTP, or the party by the signed link of its email")
        for (key, party_id), offer in offers.items():
            side, firm = self.story[key][2][party_id], offer.side_firm_id
            slot = offer.slots[0]
            if side.choice == "kafka":
                await self.send_on_kafka(firm, samples.command(firm, "mednet.ChooseCallSlot.v1", {
                    "case_id": offer.case_id, "party_id": party_id, "offer_id": offer.offer_id,
                    "slot_id": slot.slot_id}, subject=offer.case_id))
                how = f"{firm} sends ChooseCallSlot on its Kafka inbound topic"
            elif side.choice == "http":
                await self.call("post", "scheduling", f"/v1/offers/{offer.offer_id}/choose", Role.FIRM, firm_id=firm,
                                json={"slot_id": slot.slot_id})
                how = f"{firm} posts /v1/offers/…/choose with its token"
            elif side.choice == "link":
                slot = offer.slots[1]
                await self.follow_link(offer, slot.choose_url)
                how = "the party opens the link of option 2 in its email and confirms"
            else:
                continue
            self.console.print(f"  case {key} {party_id}: {how} ({slot.start:%a %d %b %H:%M} UTC)")

    async def follow_link(self, offer, url: str) -> None:
        party_mail = next(a.email.lower() for a in offer.attendees if a.kind == "party")
        if not any(url in text for to, _, text in self.mails() if to == party_mail):
            raise StepFailed(f"the signed link is not in the email to {party_mail}")
        link = urlparse(url)
        target = self.urls["scheduling"] + link.path + "?" + link.query
        page = await self.http.get(target)
        booked = await self.http.post(target)
        if page.status_code != 200 or "Confirm" not in page.text or booked.status_code != 200 \
                or "Booked" not in booked.text:
            raise StepFailed(f"the signed link did not book: {page.status_code}, {booked.status_code} {booked.text}")

    async def booked(self) -> dict[str, list]:
        self.step("7. the calls are booked (CallScheduled), each with its own room")
        calls: dict[str, list] = {}
        for key, (_, document, sides) in self.story.items():
            zones = {p["party_id"]: p["time_zone"] for p in document["parties"]}
            table = Table(title=f"case {key}: one private call per side")
            for column in ("side", "booked by", "start (UTC)", "side's local time", "place"):
                table.add_column(column)
            for party_id, side in sides.items():
                if not side.choice:
                    table.add_row(party_id, "-", "-", "-", "waived")
                    continue
                call = (await self.until(f"CallScheduled with its room for case {key} {party_id}",
                                         lambda key=key, p=party_id: self.events.of(
                                             self.ids[key], "CallScheduled", p, lambda c: c.place is not None)))[-1]
                calls.setdefault(key, []).append(call)
                local = call.start.astimezone(ZoneInfo(zones[party_id]))
                table.add_row(party_id, call.booked_by, f"{call.start:%a %d %b %H:%M}",
                              f"{local:%a %d %b %H:%M} {zones[party_id]}", call.place.text)
            self.console.print(table)
        self.result["calls"] = calls
        return calls

    async def statements(self) -> None:
        self.step("8. preparation: sides send their statements (for the mediator only)")
        for (key, party_id), text in STATEMENTS.items():
            firm, case_id = self.side_firm(key, party_id), self.ids[key]
            if key == "A":
                receipt = await self.call("post", "notes", f"/v1/cases/{case_id}/sides/{party_id}/statement",
                                          Role.FIRM, firm_id=firm, json={**text, "documents": [{
                                              "title": "Position paper", "kind": "position_paper",
                                              "content_base64": base64.b64encode(DOCUMENT).decode()}]})
                self.console.print(f"  case {key} {party_id}: {firm} posts its statement and a document over HTTP; "
                                   f"receipt v{receipt['version']}: {', '.join(receipt['parts'])}, "
                                   f"{len(receipt['documents'])} document(s)")
            else:
                await self.send_on_kafka(firm, samples.command(firm, "mednet.SubmitStatement.v1", {
                    "case_id": case_id, "party_id": party_id, **text}, subject=case_id))
                self.console.print(f"  case {key} {party_id}: {firm} sends SubmitStatement on its Kafka inbound topic")
            received = (await self.until(f"StatementReceived for case {key} {party_id}", lambda case_id=case_id,
                                         p=party_id: self.events.of(case_id, "StatementReceived", p)))[-1]
            self.console.print(f"    StatementReceived (to {received.side_firm_id} only): {', '.join(received.parts)}")
            await self.mediator_reads(key, party_id)

    async def mediator_reads(self, key: str, party_id: str) -> None:
        case_id, mediator = self.ids[key], {"mediator_id": self.cast.mediator}
        statement = await self.call("get", "notes", f"/v1/cases/{case_id}/sides/{party_id}/statement", Role.MEDIATOR,
                                    **mediator)
        self.console.print(f"    the mediator reads it: interests {statement['interests']!r}")
        for document in statement["documents"]:
            response = await self.http.get(self.urls["notes"] + document["download"],
                                           headers=self.token(Role.MEDIATOR, **mediator))
            if response.content != DOCUMENT:
                raise StepFailed(f"the mediator could not open {document['title']}: {response.status_code}")
            self.console.print(f"    and opens {document['title']!r} ({document['size']} bytes)")
        others = {f for f in (self.cast.harbor, self.cast.meridian) if f != self.side_firm(key, party_id)}
        for other in others:
            answer = await self.http.get(self.urls["notes"] + f"/v1/cases/{case_id}/sides/{party_id}/statement",
                                         headers=self.token(Role.FIRM, firm_id=other))
            if answer.status_code != 404:
                raise StepFailed(f"{other} read another side's statement: {answer.status_code}")
            self.console.print(f"    {other} asks for it: {answer.status_code} (no firm sees another side's)")

    async def readiness(self) -> None:
        self.step("9. the readiness checklist: each side's firm ticks its items")
        for key, (_, _, sides) in self.story.items():
            for party_id, side in sides.items():
                if not side.choice:
                    continue
                for item in FIRM_ITEMS:
                    view = await self.call("put", "notes", f"/v1/cases/{self.ids[key]}/sides/{party_id}/readiness/"
                                           f"{item}", Role.FIRM, firm_id=self.side_firm(key, party_id),
                                           json={"done": True})
                self.console.print(f"  case {key} {party_id}: {', '.join(FIRM_ITEMS)} ticked by its firm; "
                                   f"outstanding: {', '.join(view['outstanding']) or '-'}")
                await self.until(f"SideReadinessChanged for case {key} {party_id}", lambda key=key, p=party_id: len(
                    self.events.of(self.ids[key], "SideReadinessChanged", p)) >= len(FIRM_ITEMS))

    async def hold(self, calls: dict[str, list]) -> None:
        self.step("10. the mediator holds the calls: notes, objectives and each call's outcome")
        for key, booked in calls.items():
            for call in booked:
                side = self.story[key][2][call.party_id]
                await self.call("post", "scheduling", f"/v1/calls/{call.call_id}/complete", Role.MEDIATOR,
                                mediator_id=self.cast.mediator)
                await self.until(f"notes knows the call {call.call_id}", lambda call=call: self.found(
                    "notes", f"/v1/calls/{call.call_id}/notes", Role.MEDIATOR, mediator_id=self.cast.mediator))
                await self.call("put", "notes", f"/v1/calls/{call.call_id}/notes", Role.MEDIATOR,
                                mediator_id=self.cast.mediator,
                                json={"observations": PRIVATE, "objectives": side.objectives})
                outcome = await self.call("put", "notes", f"/v1/calls/{call.call_id}/outcome", Role.MEDIATOR,
                                          mediator_id=self.cast.mediator, json={
                                              **side.outcome, "confidential": "kept sealed in notes"})
                recorded = (await self.until(f"CallOutcomeRecorded for {call.call_id}", lambda key=key, call=call:
                                             self.events.of(self.ids[key], "CallOutcomeRecorded", call.party_id)))[-1]
                self.console.print(f"  case {key} {call.party_id}: completed; {len(side.objectives)} objectives; "
                                   f"outcome {recorded.outcome} (to {recorded.side_firm_id} only)"
                                   + (f", confirmed {', '.join(outcome['items_marked'])}" if outcome['items_marked']
                                      else "") + (f"; next step: {recorded.next_step}" if recorded.next_step else ""))
        for key in calls:
            view = await self.readiness_views(key)
            ready = self.events.of(self.ids[key], "CaseReadyForSession")
            for party_id, state in view.items():
                self.console.print(f"  case {key} {party_id}: {'ready' if state['ready'] else 'not ready'}"
                                   + (f" (outstanding: {', '.join(state['outstanding'])})" if state["outstanding"]
                                      else ""))
            if all(v["ready"] for v in view.values()):
                ready = await self.until(f"CaseReadyForSession for case {key}",
                                         lambda key=key: self.events.of(self.ids[key], "CaseReadyForSession"))
            self.result.setdefault("ready", {})[key] = bool(ready)
            if ready and not all(v["ready"] for v in view.values()):
                raise StepFailed(f"case {key} was declared ready for its session with a side not ready")
            self.console.print(f"  case {key}: " + (f"CaseReadyForSession ({', '.join(ready[0].party_ids)})" if ready
                                                    else "not ready for the session (no CaseReadyForSession)"))

    async def readiness_views(self, key: str) -> dict[str, dict]:
        return {p: await self.call("get", "notes", f"/v1/cases/{self.ids[key]}/sides/{p}/readiness", Role.MEDIATOR,
                                   mediator_id=self.cast.mediator)
                for p, side in self.story[key][2].items() if side.choice}

    async def briefs(self) -> None:
        self.step("11. the brief (the mediator's eyes only)")
        for key in self.story:
            await self.until(f"BriefReady for case {key}", lambda key=key: self.events.of(self.ids[key], "BriefReady"))
            brief = await self.call("get", "notes", f"/v1/cases/{self.ids[key]}/brief", Role.MEDIATOR,
                                    mediator_id=self.cast.mediator)
            self.result.setdefault("briefs", {})[key] = brief
            self.console.print(brief_panel(key, brief))

    # -- helpers ---------------------------------------------------------------------------------

    def side_firm(self, key: str, party_id: str) -> str:
        return next(p["attorney"]["firm_id"] for p in self.story[key][1]["parties"] if p["party_id"] == party_id)

    def token(self, role: Role, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue(role, **claims)}"}

    async def call(self, method: str, service: str, path: str, role: Role, **kwargs) -> Any:
        claims = {k: kwargs.pop(k) for k in ("firm_id", "mediator_id") if k in kwargs}
        response = await self.http.request(method, self.urls[service] + path, headers=self.token(role, **claims),
                                           **kwargs)
        if response.status_code >= 400:
            raise StepFailed(f"{method.upper()} {service}{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def found(self, service: str, path: str, role: Role, **claims) -> Any:
        response = await self.http.get(self.urls[service] + path, headers=self.token(role, **claims))
        return response.json() if response.status_code == 200 else None

    async def send_on_kafka(self, firm: str, event: CloudEvent) -> None:
        from aiokafka import AIOKafkaProducer

        from mednet_shared.platform.kafka import PRODUCER_DEFAULTS, ensure_topics

        topic = Topics.firm_inbound(firm)
        await ensure_topics(self.kafka, [topic], replication=self.replication)
        record = event.to_record(topic)
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka, **PRODUCER_DEFAULTS)
        await producer.start()
        try:
            await producer.send_and_wait(topic, record.value, key=record.key,
                                         headers=[(k, v.encode()) for k, v in record.headers.items()])
        finally:
            await producer.stop()

    def mails(self) -> list[tuple[str, str, str]]:
        """(recipient, subject, text) of every mail the SMTP sink caught since the demo began."""
        found = []
        for raw in read_mail(fleet.mail_dir(self.data_dir))[self.mail_before:]:
            message = email.message_from_bytes(raw)
            text = "".join(p.get_payload(decode=True).decode(errors="replace") for p in message.walk()
                           if p.get_content_type() == "text/plain")
            found.append((parseaddr(message["To"])[1].lower(), " ".join(message["Subject"].split()), text))
        return found

    @staticmethod
    async def until(step: str, probe, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = probe()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.3)
        raise StepFailed(f"the demo stopped: no {step} within {timeout:.0f}s")

    # -- the epilogue ----------------------------------------------------------------------------

    def epilogue(self, hooks: Webhooks) -> None:
        for key, case_id in self.ids.items():
            self.step(f"case {key}: its timeline across the topics ({case_id})")
            self.console.print(timeline([(e.time, topic, e.type.split(".")[1]) for topic, e in self.events.seen
                                         if e.subject == case_id]))
        self.step("mail caught by the local SMTP sink")
        self.console.print(self.mail_table())
        self.step("what each firm received by webhook (its own sides' events and the case-level facts only)")
        self.console.print(firm_table(hooks, (self.cast.harbor, self.cast.meridian)))
        self.step("the console: the mediator's pages, and each side's through the link of its emails")
        address = self.urls.get("console", fleet.console_url())
        self.console.print(f"  {address}; sign in as {self.cast.mediator} with this one-time link (ten minutes):")
        self.console.print(f"  {console_login.login_link(self.data_dir, self.cast.mediator, address)}", soft_wrap=True)

    def mail_table(self) -> Table:
        kinds: dict[tuple[str, str], int] = {}
        for to, subject, _ in self.mails():
            subject = re.sub(r" \(by .*\)$|: case \S+$", "", subject)
            kinds[to, subject] = kinds.get((to, subject), 0) + 1
        table = Table()
        for column in ("to", "subject", "count"):
            table.add_column(column)
        for (to, subject), count in sorted(kinds.items()):
            table.add_row(to, subject, str(count))
        return table


def brief_panel(key: str, brief: dict) -> Panel:
    lines = [f"[bold]{group.replace('_', ' ')}[/]: {', '.join(brief[group]) or '-'}"
             for group in ("shared_interests", "trade_offs", "open_issues", "hard_conflicts")]
    lines.append(f"[bold]one-sided (raised by one side only)[/]: {', '.join(brief['one_sided']) or '-'}")
    lines.append("[bold]not heard[/]: " + (", ".join(f"{n['party_id']} ({n['reason']})" for n in brief["not_heard"])
                                          or "-"))
    lines.append("[bold]not ready[/]: " + (", ".join(f"{n['party_id']} (outstanding: {', '.join(n['outstanding'])})"
                                                     for n in brief["not_ready"]) or "-"))
    lines.append("[bold]suggested agenda[/]:")
    lines += [f"  {n}. {item['label']} — {item['rationale']}" for n, item in enumerate(brief["agenda"], 1)]
    return Panel("\n".join(lines), title=f"case {key}: the mediator's brief (heard: {', '.join(brief['parties'])})")


def timeline(rows: list[tuple[datetime, str, str]]) -> Table:
    table = Table()
    for column in ("time (UTC)", "topic", "event"):
        table.add_column(column)
    grouped: list[list] = []
    for when, topic, kind in sorted(rows):
        if grouped and grouped[-1][1:3] == [topic, kind] and when - grouped[-1][0] < timedelta(seconds=5):
            grouped[-1][3] += 1
        else:
            grouped.append([when, topic, kind, 1])
    for when, topic, kind, count in grouped:
        table.add_row(when.strftime("%H:%M:%S.%f")[:-3], topic, kind + (f" x{count}" if count > 1 else ""))
    return table


def firm_table(hooks: Webhooks, firms: tuple[str, ...]) -> Table:
    table = Table()
    for column in ("firm", "webhooks (signed)", "events"):
        table.add_column(column)
    for firm in firms:
        mine = [h for h in hooks.received if h["path"] == f"/{firm}"]
        kinds: dict[str, int] = {}
        for hook in mine:
            kind = hook["event"]["type"].split(".")[1]
            kinds[kind] = kinds.get(kind, 0) + 1
        table.add_row(firm, str(len(mine)), ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))
    return table


def run(data_dir: Path, console: Console) -> None:
    asyncio.run(Demo(data_dir, console).run())

"""`mednet demo`: the whole story on the local stack, as two firms and a mediator would live it."""

from __future__ import annotations

import asyncio
import email
import json
import threading
import time
import uuid
from datetime import datetime
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import UNKNOWN_KID_COOLDOWN_SECONDS, Role

from . import fleet, samples
from .processes import free_port
from .smtp_sink import read_mail
from .stack import Stack
from .tokens import Issuer

HARBOR, MERIDIAN = "harbor-law", "meridian-legal"
MEDIATOR = "med-ada-okafor"
URLS = {name: f"http://127.0.0.1:{port}" for name, port in fleet.SERVICES.items()}


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def party(party_id: str, role: str, name: str, zone: str, firm: str, counsel: str,
          hours: tuple[str, str] = ("08:00", "19:00")) -> dict:
    return samples.party(party_id, role, zone, firm, f"{name.lower().replace(' ', '.')}@clients.example.org",
                         name=name, counsel=counsel, counsel_address=f"{counsel.split()[0].lower()}@{firm}.example.org",
                         availability=samples.hours(*hours, WEEKDAYS + ("sat",)))


def case(reference: str, title: str, parties: list[dict], days_ahead: int) -> dict:
    return samples.case(reference, parties, title=title, session_hours=7, zone="Europe/London",
                        start=samples.session_start(None, days_ahead, hour=9),
                        mediator=samples.mediator(MEDIATOR, "Ada Okafor", email="ada.okafor@mediators.example.org",
                                                  zone="Europe/London", working_hours=samples.hours("08:30", "18:00")),
                        policy={"call_minutes": 45, "minimum_notice_hours": 2, "preparation_lead_hours": 48})


CASE_A = case(f"HL-{uuid.uuid4().hex[:6]}", "Okonkwo v. Brightline Logistics (wrongful dismissal)", [
    party("claimant", "claimant", "Chidi Okonkwo", "Europe/London", HARBOR, "Priya Raman"),
    party("respondent", "respondent", "Brightline Logistics", "Asia/Kolkata", MERIDIAN, "Marcus Webb"),
], days_ahead=10)
CASE_B = case(f"ML-{uuid.uuid4().hex[:6]}", "Halvorsen Supply v. Tasman Retail (supply contract)", [
    party("supplier", "claimant", "Halvorsen Supply", "America/St_Johns", MERIDIAN, "Marcus Webb"),
    party("retailer", "respondent", "Tasman Retail", "Australia/Lord_Howe", HARBOR, "Priya Raman",
          hours=("16:00", "22:00")),
    party("insurer", "other", "Northwind Insurance", "America/New_York", MERIDIAN, "Lena Ortiz"),
], days_ahead=14)

OBJECTIVES = {
    "claimant": [
        {"issue": "payment_amount", "wants": "compensation for lost wages", "amount": {"minimum": 45000, "currency": "GBP"},
         "priority": 1},
        {"issue": "reference", "wants": "a neutral reference letter", "priority": 2, "shareable": True},
        {"issue": "confidentiality", "wants": "no public statement", "priority": 4, "shareable": True}],
    "respondent": [
        {"issue": "payment_amount", "wants": "settle below 30k", "stance": "willing",
         "amount": {"maximum": 30000, "currency": "GBP"}, "priority": 2},
        {"issue": "reference", "wants": "can provide a factual reference", "stance": "willing", "priority": 8},
        {"issue": "confidentiality", "wants": "strict confidentiality clause", "priority": 1, "shareable": True}],
    "supplier": [
        {"issue": "payment_timing", "wants": "outstanding invoices paid in 30 days", "priority": 1},
        {"issue": "future_relationship", "wants": "keep the supply contract", "priority": 2, "shareable": True}],
    "retailer": [
        {"issue": "payment_timing", "wants": "instalments over 6 months", "priority": 2},
        {"issue": "future_relationship", "wants": "continue with better terms", "priority": 3, "shareable": True}],
    "insurer": [
        {"issue": "costs", "wants": "each side bears its own costs", "priority": 3},
        {"issue": "future_relationship", "wants": "no view", "stance": "willing", "priority": 9}],
}
PRIVATE = {"concerns": "the demo's private concern (stays in the notes service)", "dynamics": "tense but open",
           "rapport": "good", "settlement_range": "private range", "free_text": "never leaves notes"}


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


class Demo:
    def __init__(self, data_dir: Path, console: Console) -> None:
        self.data_dir, self.console = data_dir, console
        self.tokens = Issuer(data_dir)
        if [firm for firm in (HARBOR, MERIDIAN) if self.tokens.ensure_firm(firm)]:
            time.sleep(UNKNOWN_KID_COOLDOWN_SECONDS)  # services that read the JWKS just now look again after this
        stack = Stack(data_dir)
        self.kafka, self.replication = stack.bootstrap, stack.brokers
        self.mail_before = len(read_mail(fleet.mail_dir(data_dir)))

    def token(self, role: Role, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue(role, **claims)}"}

    async def run(self) -> None:
        hooks = Webhooks()
        async with httpx.AsyncClient(timeout=30) as http:
            self.http = http
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=self.console) as progress:
                step = progress.add_task("firms register their webhook endpoints", total=None)
                for firm in (HARBOR, MERIDIAN):
                    await self.call("post", "notify", "/v1/webhooks", Role.FIRM, firm_id=firm,
                                    json={"url": f"{hooks.url}/{firm}"})
                progress.update(step, description=f"{HARBOR} submits case A over HTTP")
                case_a = (await self.call("post", "intake", "/v1/cases", Role.FIRM, firm_id=HARBOR,
                                          json=CASE_A))["case_id"]
                progress.update(step, description=f"{MERIDIAN} submits case B on its Kafka inbound topic")
                case_b = await self.submit_on_kafka(MERIDIAN, CASE_B)
                cases = {"A": (case_a, CASE_A), "B": (case_b, CASE_B)}
                progress.update(step, description="each firm named for a party accepts its side (AcceptRepresentation)")
                confirmations = await self.confirm_sides(cases, {"A": HARBOR, "B": MERIDIAN})
                progress.update(step, description="scheduling places one private call per confirmed side")
                calls = {key: await self.wait_scheduled(case_id, len(doc["parties"]))
                         for key, (case_id, doc) in cases.items()}
                progress.update(step, description="the mediator holds the calls and records notes and objectives")
                held = all([await self.hold(call) for key in cases for call in calls[key]
                            if call["status"] == "scheduled"])
                progress.update(step, description="waiting for the briefs and the alerts")
                briefs = {key: await self.wait_brief(case_id) if held else None for key, (case_id, _) in cases.items()}
                await asyncio.sleep(3)
                progress.update(step, description="reading the timelines from Kafka")
                timelines = {key: await self.events_of(case_id) for key, (case_id, _) in cases.items()}
                reminders = [job for case_id, _ in cases.values() for job in
                             await self.found("notify", f"/v1/notifications?case_id={case_id}", Role.OPERATOR) or []
                             if job["kind"] == "reminder"]
                progress.update(step, description="done", completed=1, total=1)
        self.show(cases, confirmations, calls, briefs, hooks, timelines, reminders)

    async def call(self, method: str, service: str, path: str, role: Role, **kwargs) -> Any:
        claims = {k: kwargs.pop(k) for k in ("firm_id", "mediator_id") if k in kwargs}
        response = await self.http.request(method, URLS[service] + path, headers=self.token(role, **claims), **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method.upper()} {service}{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def submit_on_kafka(self, firm: str, document: dict) -> str:
        await self.send_on_kafka(firm, samples.submit_case(firm, document))
        return await self.wait_case(firm, document["external_ref"])

    async def confirm_sides(self, cases: dict[str, tuple[str, dict]], firms: dict[str, str]) -> list[str]:
        """Each firm named for a party of another firm's case accepts on its Kafka inbound topic
        (AcceptRepresentation); until then nothing of that side goes to anyone but the mediator."""
        told = []
        for key, (case_id, _) in cases.items():
            view = await self.found("intake", f"/v1/cases/{case_id}", Role.FIRM, firm_id=firms[key]) or {}
            for side in view.get("sides", []):
                if side["status"] == "awaiting_confirmation" and side.get("firm_id"):
                    await self.send_on_kafka(side["firm_id"], samples.accept_representation(
                        side["firm_id"], case_id, side["party_id"]))
                    told.append(f"case {key}: {side['firm_id']} accepts representing {side['party_id']} "
                                f"(awaited since {side['since'][:19]})")
        for key, (case_id, _) in cases.items():
            await self.until(lambda: self.all_confirmed(case_id, firms[key]), 60)
        return told

    async def all_confirmed(self, case_id: str, firm: str) -> bool:
        view = await self.found("intake", f"/v1/cases/{case_id}", Role.FIRM, firm_id=firm) or {}
        return bool(view) and all(side["status"] == "confirmed" for side in view.get("sides", []))

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

    async def wait_case(self, firm: str, reference: str, timeout: float = 60) -> str:
        from mednet_intake.domain import case_id_for

        case_id = case_id_for(firm, reference)
        await self.until(lambda: self.found("intake", f"/v1/cases/{case_id}", Role.FIRM, firm_id=firm), timeout)
        return case_id

    async def found(self, service: str, path: str, role: Role, **claims) -> Any:
        response = await self.http.get(URLS[service] + path, headers=self.token(role, **claims))
        return response.json() if response.status_code == 200 else None

    async def wait_scheduled(self, case_id: str, count: int) -> list[dict]:
        async def scheduled():
            view = await self.found("scheduling", f"/v1/cases/{case_id}/calls", Role.OPERATOR)
            done = view and len(view["calls"]) == count and all(c["status"] != "pending" for c in view["calls"])
            return view["calls"] if done else None

        return await self.until(scheduled, 60)

    async def hold(self, call: dict) -> bool:
        """The mediator completes the call and records its notes; False when scheduling refuses to complete a call
        before the time it was booked for (the story then ends with the calls booked)."""
        response = await self.http.post(URLS["scheduling"] + f"/v1/calls/{call['call_id']}/complete",
                                        headers=self.token(Role.MEDIATOR, mediator_id=MEDIATOR))
        if response.status_code == 409 and "before it starts" in response.text:
            return False
        if response.status_code >= 400:
            raise RuntimeError(f"POST scheduling complete: {response.status_code} {response.text}")
        await self.record_notes(call)
        return True

    async def record_notes(self, call: dict) -> None:
        body = {"observations": PRIVATE, "objectives": OBJECTIVES[call["party_id"]]}
        await self.until(lambda: self.known_to_notes(call["call_id"]), 30)
        await self.call("put", "notes", f"/v1/calls/{call['call_id']}/notes", Role.MEDIATOR, mediator_id=MEDIATOR,
                        json=body)

    async def known_to_notes(self, call_id: str) -> bool:
        return bool(await self.found("notes", f"/v1/calls/{call_id}/notes", Role.MEDIATOR, mediator_id=MEDIATOR))

    async def wait_brief(self, case_id: str) -> dict:
        return await self.until(lambda: self.found("notes", f"/v1/cases/{case_id}/brief", Role.MEDIATOR,
                                                   mediator_id=MEDIATOR), 60)

    @staticmethod
    async def until(probe, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = await probe()
            if result:
                return result
            await asyncio.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {getattr(probe, '__name__', 'a result')}")

    # -- the story -------------------------------------------------------------------------------

    def show(self, cases, confirmations, calls, briefs, hooks: Webhooks, timelines, reminders) -> None:
        self.console.rule("sides: a party of the submitting firm is confirmed at once; another firm accepts its own")
        for line in confirmations or ["every side was confirmed at submission"]:
            self.console.print(f"  {line}")
        for key, (case_id, document) in cases.items():
            self.console.rule(f"case {key}: {document['title']}  ({case_id})")
            self.console.print(self.timeline(timelines[key]))
            self.console.print(self.calls_table(calls[key], document))
            if briefs[key]:
                self.console.print(self.brief_panel(briefs[key]))
            else:
                self.console.print("the calls are booked; the mediator completes each once it has taken place "
                                   "(scheduling refuses it earlier), then records notes and objectives")
        self.console.rule("invitations and alerts caught by the local SMTP sink")
        self.console.print(self.mail_table())
        self.console.print(self.reminders_table(reminders))
        self.console.rule("what each firm received (its own sides' events and the case-level facts only)")
        self.console.print(self.firm_table(hooks))

    @staticmethod
    def timeline(rows: list[tuple[datetime, str, str]]) -> Table:
        table = Table(title="timeline across topics")
        for column in ("time (UTC)", "topic", "event"):
            table.add_column(column)
        grouped: list[list] = []
        for when, topic, kind in rows:
            if grouped and grouped[-1][1:3] == [topic, kind]:
                grouped[-1][3] += 1
            else:
                grouped.append([when, topic, kind, 1])
        for when, topic, kind, count in grouped:
            table.add_row(when.strftime("%H:%M:%S.%f")[:-3], topic, kind + (f" x{count}" if count > 1 else ""))
        return table

    async def events_of(self, case_id: str) -> list[tuple[datetime, str, str]]:
        from aiokafka import AIOKafkaConsumer

        topics = Topics.service_topics()
        consumer = AIOKafkaConsumer(*topics, bootstrap_servers=self.kafka, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None)
        await consumer.start()
        rows = []
        try:
            while batch := await consumer.getmany(timeout_ms=1500):
                for records in batch.values():
                    for record in records:
                        if record.key == case_id.encode():
                            event = CloudEvent.from_bytes(record.value)
                            rows.append((event.time, record.topic, event.type.split(".")[1]))
        finally:
            await consumer.stop()
        return sorted(rows)

    def calls_table(self, calls: list[dict], document: dict) -> Table:
        zones = {p["party_id"]: p["time_zone"] for p in document["parties"]}
        table = Table(title="pre-mediation calls (one side each)")
        for column in ("party", "status", "start (UTC)", "party's local time"):
            table.add_column(column)
        for call in calls:
            start = datetime.fromisoformat(call["start"]) if call.get("start") else None
            local = start.astimezone(ZoneInfo(zones[call["party_id"]])) if start else None
            table.add_row(call["party_id"], call["status"], start.strftime("%a %d %b %H:%M") if start else "-",
                          f"{local:%a %d %b %H:%M} {zones[call['party_id']]}" if local else "-")
        return table

    @staticmethod
    def brief_panel(brief: dict) -> Panel:
        lines = [f"[bold]{group.replace('_', ' ')}[/]: {', '.join(brief[group]) or '-'}"
                 for group in ("shared_interests", "trade_offs", "open_issues", "hard_conflicts")]
        lines.append("[bold]suggested agenda[/]:")
        lines += [f"  {n}. {item['label']} — {item['rationale']}" for n, item in enumerate(brief["agenda"], 1)]
        return Panel("\n".join(lines), title="the mediator's brief (mediator only)")

    def mail_table(self) -> Table:
        table = Table()
        for column in ("to", "subject", "invite"):
            table.add_column(column)
        for raw in read_mail(fleet.mail_dir(self.data_dir))[self.mail_before:]:
            message = email.message_from_bytes(raw)
            method = next((p.get_param("method") for p in message.walk() if p.get_content_type() == "text/calendar"),
                          "")
            table.add_row(parseaddr(message["To"])[1], " ".join(message["Subject"].split()), method or "")
        return table

    @staticmethod
    def reminders_table(reminders: list[dict]) -> Table:
        table = Table(title=f"{len(reminders)} reminders kept in MongoDB (24 h and 1 h before each call)")
        for column in ("recipient", "due (UTC)", "status"):
            table.add_column(column)
        for job in sorted(reminders, key=lambda j: j["due_at"])[:10]:
            table.add_row(job["recipient"], job["due_at"][:16], job["status"])
        return table

    def firm_table(self, hooks: Webhooks) -> Table:
        table = Table()
        for column in ("firm", "webhooks (signed)", "events"):
            table.add_column(column)
        for firm in (HARBOR, MERIDIAN):
            mine = [h for h in hooks.received if h["path"] == f"/{firm}"]
            kinds: dict[str, int] = {}
            for hook in mine:
                kind = hook["event"]["type"].split(".")[1]
                kinds[kind] = kinds.get(kind, 0) + 1
            table.add_row(firm, str(len(mine)), ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))
        return table


def run(data_dir: Path, console: Console) -> None:
    asyncio.run(Demo(data_dir, console).run())

"""The mediators' side of a run: complete each call and record the party's objectives over HTTP, retrying
through crashed instances until the service answers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import httpx

from mednet_shared.platform.auth import Role

from ..tokens import Issuer
from .instances import Instance
from .ledger import Call

OBJECTIVES = [{"issue": "confidentiality", "wants": "keep it private", "priority": 1, "shareable": True},
              {"issue": "payment_amount", "wants": "a fair amount", "priority": 2}]
RETRYABLE = {404, 409, 425, 429, 500, 502, 503, 504}


class Mediators:
    def __init__(self, instances: list[Instance], tokens: Issuer, http: httpx.AsyncClient) -> None:
        self.instances, self.tokens, self.http = instances, tokens, http
        self.completed = 0
        self.recorded = 0
        self.attempts_failed = 0

    async def work(self, queue: asyncio.Queue[Call]) -> None:
        while True:
            call = await queue.get()
            try:
                await self.handle(call)
            finally:
                queue.task_done()

    async def handle(self, call: Call) -> None:
        await self._until_done("scheduling", "POST", f"/v1/calls/{call.call_id}/complete", call,
                               done=lambda response: response.status_code == 200 or self._already_completed(response))
        self.completed += 1
        body = {"observations": {"concerns": f"chaos run, {call.party_id}"}, "objectives": OBJECTIVES}
        await self._until_done("notes", "PUT", f"/v1/calls/{call.call_id}/notes", call,
                               done=lambda response: response.status_code == 200, json=body)
        self.recorded += 1

    @staticmethod
    def _already_completed(response: httpx.Response) -> bool:
        return response.status_code == 409 and "completed" in response.text

    async def _until_done(self, service: str, method: str, path: str, call: Call,
                          done: Callable[[httpx.Response], bool], **kwargs) -> None:
        token = self.tokens.issue(Role.MEDIATOR, mediator_id=call.mediator_id)
        headers = {"Authorization": f"Bearer {token}"}
        delay = 0.2
        while True:
            instance = random.choice([i for i in self.instances if i.service == service])
            try:
                response = await self.http.request(method, instance.url + path, headers=headers, **kwargs)
                if done(response):
                    return
                if response.status_code not in RETRYABLE:
                    raise RuntimeError(f"{method} {service}{path}: {response.status_code} {response.text[:300]}")
            except httpx.TransportError:
                pass
            self.attempts_failed += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 3.0)

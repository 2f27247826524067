"""The other services' HTTP APIs, called with the signed-in user's own token. A service that is down or refuses
becomes a plain sentence for that part of the page; the rest of the page still renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request

from .sessions import Session

NAMES = {"intake": "Cases", "scheduling": "Scheduling", "notes": "Notes", "notify": "Notifications"}


@dataclass(frozen=True)
class Answer:
    ok: bool
    data: Any = None
    problem: str = ""
    status: int = 0


def plain(service: str, status: int, detail: str) -> str:
    what = NAMES[service]
    if status == 0:
        return f"{what} is not answering right now; this part cannot be shown. Try again in a moment."
    if status == 401:
        return "Your sign-in has ended. Please sign in again."
    if status in (403, 404):
        return f"{what}: not found, or not yours to see."
    if status == 410:
        return f"{what}: this is no longer available."
    if status in (409, 422):
        return f"{what} refused: {detail}"
    return f"{what} failed to answer ({status}); this part cannot be shown."


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = body.get("detail", "") if isinstance(body, dict) else ""
    errors = body.get("errors", []) if isinstance(body, dict) else []
    fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    return f"{detail} ({fields})" if fields else str(detail)


class Services:
    def __init__(self, request: Request, session: Session) -> None:
        self.http: httpx.AsyncClient = request.app.state.http
        self.settings = request.app.state.settings
        self.token = session.token

    async def call(self, service: str, method: str, path: str, **options) -> Answer:
        url = self.settings.service_url(service) + path
        try:
            response = await self.http.request(method, url, headers={"Authorization": f"Bearer {self.token}"},
                                               **options)
        except httpx.HTTPError:
            return Answer(False, problem=plain(service, 0, ""))
        if response.status_code >= 400:
            return Answer(False, problem=plain(service, response.status_code, _detail(response)),
                          status=response.status_code)
        data = response.json() if response.content and "json" in response.headers.get("content-type", "") else None
        return Answer(True, data, status=response.status_code)

    async def get(self, service: str, path: str, **options) -> Answer:
        return await self.call(service, "GET", path, **options)

    async def send(self, service: str, method: str, path: str, body: Any) -> Answer:
        return await self.call(service, method, path, json=body)

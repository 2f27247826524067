"""Notify's HTTP API: firms register webhook endpoints; each caller reads the notifications of its own cases;
operators set per-recipient channel preferences (a recipient is anyone's address, so no mediator or firm may)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field

from mednet_shared.platform.auth import Principal, Role, require
from mednet_shared.platform.http import answers, errors

from .domain import RefusedReply
from .replies import MAX_REPLY_BYTES
from .store import Store, TooManyEndpoints
from .webhooks import RefusedWebhook

router = APIRouter(prefix="/v1", tags=["notifications"])
firm = require(Role.FIRM)
operator = require(Role.OPERATOR)
anyone = require(Role.FIRM, Role.MEDIATOR, Role.OPERATOR)
mediator_or_operator = require(Role.MEDIATOR, Role.OPERATOR)


def example(value: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [value]})


ENDPOINT = {"endpoint_id": "wh-3f9a2c", "firm_id": "harbor-law", "url": "https://hooks.harbor-law.example.org/mednet",
            "enabled": True, "consecutive_failures": 0}


class EndpointRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({"url": "https://hooks.harbor-law.example.org/mednet"}))
    url: AnyHttpUrl


class Preference(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({"email": True, "reminders": False}))
    email: bool | None = None
    reminders: bool | None = None


class EndpointView(BaseModel):
    model_config = example(ENDPOINT)
    endpoint_id: str
    firm_id: str
    url: str
    enabled: bool
    consecutive_failures: int


class Registered(EndpointView):
    model_config = example({**ENDPOINT, "secret": "whsec_MfKQ9r45PfjWQ7wJ2cP1x3bJ0YsVmS5n"})
    secret: str = Field(description="The signing secret, shown only here")


class NotificationView(BaseModel):
    model_config = example({"notification": "case-b68b:p1:offer-1:email", "channel": "email", "kind": "offer",
                            "recipient": "legal@harbor-supplies.example.org", "status": "sent",
                            "due_at": "2027-01-04T09:00:05+00:00", "attempts": 1})
    notification: str
    channel: str
    kind: str
    recipient: str
    status: str
    due_at: str
    attempts: int


class PreferenceView(BaseModel):
    model_config = example({"recipient": "legal@harbor-supplies.example.org", "email": True, "reminders": False})
    recipient: str
    email: bool
    reminders: bool


def store_of(request: Request) -> Store:
    return request.app.state.notifier.store


def endpoint_view(endpoint: dict[str, Any], with_secret: bool = False) -> dict[str, Any]:
    view = {k: endpoint[k] for k in ("_id", "firm_id", "url", "enabled", "consecutive_failures")}
    view["endpoint_id"] = view.pop("_id")
    if with_secret:
        view["secret"] = endpoint["secret"]
    return view


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, **answers(Registered, 409, status=201))
async def register_webhook(body: EndpointRegistration, request: Request, caller: Principal = Depends(firm)) -> dict:
    """Register an endpoint for the caller's firm; the signing secret is shown once, here. 422 for a URL
    webhooks may not reach (not https, or a host resolving to a loopback, private or other internal address);
    409 past the firm's cap on endpoints."""
    webhooks = request.app.state.notifier.dispatcher.webhooks
    try:
        async with asyncio.timeout(webhooks.deadline_seconds):
            await webhooks.vet(str(body.url))
        endpoint = await store_of(request).register_endpoint(caller.firm_id, str(body.url))
    except RefusedWebhook as refused:
        raise HTTPException(422, f"webhook URL refused: {refused}") from None
    except TimeoutError:
        raise HTTPException(422, "webhook URL refused: its host did not resolve in time") from None
    except TooManyEndpoints as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return endpoint_view(endpoint, with_secret=True)


@router.get("/webhooks", **answers(list[EndpointView]))
async def list_webhooks(request: Request, caller: Principal = Depends(firm)) -> list[dict]:
    return [endpoint_view(e) for e in await store_of(request).endpoints_of(caller.firm_id, enabled_only=False)]


@router.delete("/webhooks/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_webhook(endpoint_id: str, request: Request, caller: Principal = Depends(firm)) -> None:
    if not await store_of(request).delete_endpoint(caller.firm_id, endpoint_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no endpoint {endpoint_id}")


@router.get("/notifications", **answers(list[NotificationView], 404))
async def list_notifications(request: Request, case_id: str = Query(max_length=300),
                             caller: Principal = Depends(anyone)) -> list[dict]:
    if not await concerns(store_of(request), case_id, caller):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    jobs = await store_of(request).notifications(case_id, caller.firm_id if caller.role is Role.FIRM else None)
    return [{"notification": j.id, "channel": j.channel, "kind": j.purpose, "recipient": j.recipient,
             "status": j.status, "due_at": j.due_at.isoformat(), "attempts": j.attempt_count} for j in jobs]


async def concerns(store: Store, case_id: str, caller: Principal) -> bool:
    """Operators see every case; a firm only the cases it takes part in; a mediator only their own."""
    if caller.role is Role.OPERATOR:
        return True
    case = await store.case(case_id)
    if case is None:
        return False
    if caller.role is Role.MEDIATOR:
        return bool(case.mediator_id) and case.mediator_id == caller.mediator_id
    return caller.firm_id in case.participant_firms


@router.put("/preferences/{recipient}", **answers(PreferenceView))
async def set_preference(recipient: EmailStr, body: Preference, request: Request,
                         caller: Principal = Depends(operator)) -> dict:
    choices = {k: v for k, v in body.model_dump().items() if v is not None}
    saved = await store_of(request).set_preference(recipient, choices)
    return {"recipient": recipient.lower(), "email": saved.email, "reminders": saved.reminders}


ITIP_REPLY = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Mail//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
              "UID:case-b68b:p1@mednet\r\nSEQUENCE:1\r\nDTSTAMP:20270104T091500Z\r\n"
              "ATTENDEE;PARTSTAT=ACCEPTED:mailto:legal@harbor-supplies.example.org\r\nEND:VEVENT\r\n"
              "END:VCALENDAR\r\n")


class ReplyRecorded(BaseModel):
    model_config = example({"call_id": "case-b68b:p1", "attendee_email": "legal@harbor-supplies.example.org",
                            "partstat": "ACCEPTED", "sequence": 1})
    call_id: str
    attendee_email: str
    partstat: str
    sequence: int


@router.post("/replies", status_code=status.HTTP_202_ACCEPTED, max_body_size=MAX_REPLY_BYTES,
             **answers(ReplyRecorded, 404, 413, 415, 422, status=202),
             openapi_extra={"requestBody": {"required": True, "content": {"text/calendar": {
                 "schema": {"type": "string", "description": "An iTIP REPLY (RFC 5546)"}, "example": ITIP_REPLY}}}})
async def upload_reply(request: Request, caller: Principal = Depends(mediator_or_operator)) -> dict:
    """An attendee's iTIP reply to a call's invitation (METHOD:REPLY with PARTSTAT, or COUNTER), uploaded by an
    operator or the call's mediator: published as InvitationReplied. 422 with the reason for an unknown UID or
    attendee (nothing published); 404 for a mediator's upload about a call that is not theirs."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "text/calendar":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "the body is a text/calendar iTIP reply")
    body = await request.body()
    if len(body) > MAX_REPLY_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_REPLY_BYTES} bytes")
    try:
        reply = await request.app.state.replies.receive(
            body, mediator_id=caller.mediator_id if caller.role is Role.MEDIATOR else None)
    except RefusedReply as refused:
        code = status.HTTP_404_NOT_FOUND if caller.role is Role.MEDIATOR and str(refused).startswith("no call") \
            else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, f"reply refused: {refused}") from None
    return {"call_id": reply.call_id, "attendee_email": reply.attendee_email, "partstat": reply.partstat,
            "sequence": reply.sequence}

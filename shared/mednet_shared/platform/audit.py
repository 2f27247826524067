"""The audit log: who read or changed what over HTTP, allowed or denied, kept in the service's own MongoDB.

Every /v1 request is recorded before its response leaves: the caller (subject, role, firm, mediator), the
action (method and route), the resource (the route's parameters), the outcome and the correlation id. If
the entry cannot be written the caller gets 503 instead of the answer.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from ..contracts.values import utc_now
from .auth import Principal, Role, require
from .http import answers

log = logging.getLogger("mednet.audit")
COLLECTION = "audit"
AUDITED_PREFIX = "/v1/"
CORRELATION_HEADER = "x-correlation-id"


def outcome_of(status_code: int) -> str:
    if status_code < 400:
        return "allowed"
    if status_code in (401, 403):
        return "denied"
    if status_code == 404:
        return "not-found"
    return "failed"


def entry_for(request: Request, status_code: int, correlation_id: str) -> dict[str, Any]:
    principal: Principal | None = getattr(request.state, "principal", None)
    route = request.scope.get("route")
    who = ({"subject": principal.subject, "role": str(principal.role), "firm_id": principal.firm_id,
            "mediator_id": principal.mediator_id} if principal else
           {"subject": None, "role": None, "reason": getattr(request.state, "auth_failure", None)})
    resource = {**request.scope.get("path_params", {}),
                **{key: value for key, value in request.query_params.items() if key == "case_id"}}
    return {"at": utc_now(), "who": who, "action": f"{request.method} {getattr(route, 'path', request.url.path)}",
            "resource": resource, "status": status_code, "outcome": outcome_of(status_code),
            "correlation_id": correlation_id}


async def ensure_indexes(collection: AsyncCollection) -> None:
    await collection.create_index([("at", DESCENDING)])
    await collection.create_index([("action", 1), ("at", DESCENDING)])


def install(app: FastAPI, collection: AsyncCollection) -> None:
    app.state.audit = collection

    @app.middleware("http")
    async def audited(request: Request, call_next) -> Response:
        if not request.url.path.startswith(AUDITED_PREFIX):
            return await call_next(request)
        correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        response = await call_next(request)
        try:
            await request.app.state.audit.insert_one(entry_for(request, response.status_code, correlation_id))
        except Exception as error:
            log.error("audit entry not written (%s: %s); the answer is withheld", type(error).__name__, error)
            return JSONResponse({"detail": "the audit log is unavailable; try again"}, status_code=503)
        response.headers[CORRELATION_HEADER] = correlation_id
        return response

    app.include_router(router)


router = APIRouter(prefix="/v1", tags=["audit"])


class Who(BaseModel):
    subject: str | None
    role: str | None
    firm_id: str | None = None
    mediator_id: str | None = None
    reason: str | None = Field(default=None, description="Why the token was refused")


class AuditEntry(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "at": "2026-11-02T09:30:00.120000+00:00", "action": "GET /v1/cases/{case_id}",
        "who": {"subject": "harbor-law", "role": "firm", "firm_id": "harbor-law", "mediator_id": None},
        "resource": {"case_id": "case-0f3a9c2e"}, "status": 200, "outcome": "allowed",
        "correlation_id": "5b0e6c4e-8d1f-4a43-9a55-3f0c2f1e7d10"}]})
    at: str = Field(description="ISO 8601 date-time")
    who: Who
    action: str = Field(description="The method and the route, e.g. GET /v1/cases/{case_id}")
    resource: dict[str, str] = Field(description="The route's parameters, and a case_id from the query")
    status: int
    outcome: str = Field(description="allowed, denied, not-found or failed")
    correlation_id: str


@router.get("/audit", **answers(list[AuditEntry]))
async def read_audit(request: Request, action: str | None = Query(default=None, max_length=200),
                     subject: str | None = Query(default=None, max_length=200),
                     limit: int = Query(default=100, ge=1, le=1000),
                     _: Principal = Depends(require(Role.OPERATOR))) -> list[dict]:
    """The newest audit entries first (operators only)."""
    query = {key: value for key, value in (("action", action), ("who.subject", subject)) if value}
    entries = await request.app.state.audit.find(query, {"_id": 0}).sort("at", DESCENDING).limit(limit).to_list()
    return [{**entry, "at": entry["at"].isoformat()} for entry in entries]

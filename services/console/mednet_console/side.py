"""A side's own pages (a party or its attorney), opened with the signed link of its emails: choose a time or decline
and propose windows, its statement and documents, its readiness, where its call takes place and its calendar file.

The link's token becomes a side session (cookie), so it leaves the address bar and every form carries the session's
CSRF token. Scheduling and notes are called with the link itself (header X-Side-Link): they decide what the side
sees, and that is only its own. Each part of the page comes from one service; a service that is down says so in its
part."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime

import httpx
import jwt
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from mednet_shared.contracts.values import DocumentKind, ReadinessItem

from . import times
from .services import Answer, _detail, plain
from .sessions import Session, new_session
from .web import open_session, page, signed_in

router = APIRouter(prefix="/side")
ITEMS = {
    ReadinessItem.AGREEMENT_SIGNED: "The agreement to mediate is signed",
    ReadinessItem.ATTENDEES_NAMED: "Who attends the session is named",
    ReadinessItem.AUTHORITY_CONFIRMED: "Settlement authority is confirmed (the mediator confirms it with you)",
    ReadinessItem.INTERPRETER_ARRANGED: "An interpreter is arranged",
    ReadinessItem.ACCESSIBILITY_ARRANGED: "Accessibility needs are arranged",
    ReadinessItem.TECHNOLOGY_CHECKED: "The video or phone technology is checked",
    ReadinessItem.DOCUMENTS_EXCHANGED: "Documents are exchanged",
}
PARTS = {"interests": "What matters most to you", "concerns": "What concerns you",
         "desired_outcomes": "What outcome you hope for", "questions": "Questions for the mediator"}
DONE = {"booked": "Your call is booked. An invitation with the place of the call is on its way to you.",
        "declined": "Thank you. You will receive new times to choose from.",
        "statement": "Your statement was received. Only the mediator reads it.",
        "readiness": "Your checklist is updated."}
UNKNOWN = "Nothing is known for this link. It may be for a case that has ended or a side not yet confirmed."
LINK_PROBLEMS = {401: "This page needs the link from your email.",
                 403: "This link is not valid. Please use the link from your most recent email.",
                 410: "This link has expired. Ask the mediator or your attorney for a new one."}


async def call(request: Request, token: str, service: str, method: str, path: str, **options) -> Answer:
    """One service's answer for the side's link; a service down or refusing becomes a plain sentence."""
    http: httpx.AsyncClient = request.app.state.http
    url = request.app.state.settings.service_url(service) + path
    try:
        response = await http.request(method, url, headers={"X-Side-Link": token}, **options)
    except httpx.HTTPError:
        return Answer(False, problem=plain(service, 0, ""))
    if response.status_code >= 400:
        detail = _detail(response)
        about_link = "link" in detail.lower() and response.status_code in LINK_PROBLEMS
        problem = LINK_PROBLEMS[response.status_code] if about_link else (
            f"{plain(service, 409, detail)}" if response.status_code == 410 else
            plain(service, response.status_code, detail))
        return Answer(False, problem=problem, status=response.status_code)
    data = response.json() if "json" in response.headers.get("content-type", "") else response.content
    return Answer(True, data, status=response.status_code)


async def side_session(request: Request) -> Session:
    session = await signed_in(request)
    if session.role != "side":
        raise HTTPException(403, "This page is opened with the link from your email.")
    return session


def problem_page(request: Request, status_code: int, message: str) -> Response:
    return page(request, "side/problem.html", status_code, title="This page cannot be opened", message=message)


@router.get("", name="side_open")
async def open_link(request: Request, token: str = ""):
    """The email's link: checked with scheduling, then kept as a side session (a cookie) instead of in the URL."""
    if not token:
        return await side_page(request, await side_session(request))
    checked = await call(request, token, "scheduling", "GET", "/v1/side")
    if not checked.ok:
        return problem_page(request, checked.status if checked.status >= 400 else 503,
                            UNKNOWN if checked.status == 404 else checked.problem)
    expires = datetime.fromtimestamp(jwt.decode(token, options={"verify_signature": False})["exp"], UTC)
    session = new_session("side", f"{checked.data['case_id']}:{checked.data['party_id']}", token, expires,
                          request.app.state.settings.session_hours, name=checked.data["name"])
    session_id = await request.app.state.sessions.create(session)
    response = RedirectResponse(request.url_for("side_open"), status_code=303)
    open_session(request, response, session_id)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def side_page(request: Request, session: Session, notice: str = "", status_code: int = 200) -> Response:
    scheduling, notes = await asyncio.gather(call(request, session.token, "scheduling", "GET", "/v1/side"),
                                             call(request, session.token, "notes", "GET", "/v1/side/preparation"))
    zone = scheduling.data["time_zone"] if scheduling.ok else "UTC"
    done = DONE.get(request.query_params.get("done", ""), "")
    return page(request, "side/side.html", status_code, scheduling=scheduling, notes=notes, zone=zone,
                times=times, items=ITEMS, parts=PARTS, kinds=list(DocumentKind), notice=notice, done=done,
                today=datetime.now(times.zone(zone)).date().isoformat())


async def answered(request: Request, session: Session, answer: Answer, done: str) -> Response:
    if answer.ok:
        return RedirectResponse(f"{request.url_for('side_open')}?done={done}", status_code=303)
    return await side_page(request, session, answer.problem, answer.status or 503)


@router.post("/choose", name="side_choose")
async def choose(request: Request, offer_id: str = Form(max_length=200), slot_id: str = Form(max_length=200),
                 session: Session = Depends(side_session)):
    answer = await call(request, session.token, "scheduling", "POST", "/v1/side/choose", params={"offer": offer_id},
                        json={"slot_id": slot_id})
    return await answered(request, session, answer, "booked")


def window(day: str, start: str, end: str, zone: str) -> dict:
    """A proposed window as the side wrote it in its own zone, as instants."""
    tz = times.zone(zone)
    try:
        begin, finish = (datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=tz) for clock in (start, end))
    except ValueError:
        raise HTTPException(422, "Give each proposed time as a day, a start and an end.") from None
    if finish <= begin:
        raise HTTPException(422, "A proposed time must end after it starts.")
    return {"start": begin.isoformat(), "end": finish.isoformat()}


@router.post("/decline", name="side_decline")
async def decline(request: Request, offer_id: str = Form(max_length=200), reason: str = Form("", max_length=2000),
                  day: list[str] = Form([]), start: list[str] = Form([]), end: list[str] = Form([]),
                  session: Session = Depends(side_session)):
    view = await call(request, session.token, "scheduling", "GET", "/v1/side")
    if not view.ok:
        return await side_page(request, session, view.problem, view.status or 503)
    proposals = [window(d, s, e, view.data["time_zone"]) for d, s, e in zip(day, start, end) if d and s and e]
    answer = await call(request, session.token, "scheduling", "POST", "/v1/side/decline", params={"offer": offer_id},
                        json={"reason": reason, "proposals": proposals})
    return await answered(request, session, answer, "declined")


@router.post("/statement", name="side_statement")
async def statement(request: Request, interests: str = Form(""), concerns: str = Form(""),
                    desired_outcomes: str = Form(""), questions: str = Form(""),
                    kind: DocumentKind = Form(DocumentKind.OTHER), document: UploadFile | None = File(None),
                    session: Session = Depends(side_session)):
    body = {"interests": interests, "concerns": concerns, "desired_outcomes": desired_outcomes,
            "questions": questions, "documents": []}
    if document is not None and document.filename:
        content = await document.read()
        body["documents"].append({"title": document.filename[:200], "kind": kind,
                                  "content_base64": base64.b64encode(content).decode()})
    answer = await call(request, session.token, "notes", "POST", "/v1/side/statement", json=body)
    return await answered(request, session, answer, "statement")


@router.post("/readiness", name="side_readiness")
async def readiness(request: Request, item: ReadinessItem = Form(), done: bool = Form(False),
                    session: Session = Depends(side_session)):
    answer = await call(request, session.token, "notes", "POST", "/v1/side/readiness",
                        json={"item": item, "done": done})
    return await answered(request, session, answer, "readiness")


@router.get("/call.ics", name="side_calendar")
async def calendar_file(request: Request, session: Session = Depends(side_session)):
    answer = await call(request, session.token, "scheduling", "GET", "/v1/side/call.ics")
    if not answer.ok:
        return await side_page(request, session, answer.problem, answer.status or 503)
    return Response(answer.data, media_type="text/calendar",
                    headers={"Content-Disposition": 'attachment; filename="pre-mediation-call.ics"',
                             "Cache-Control": "no-store"})

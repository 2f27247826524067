"""The mediator's pages: agenda, case, call (preparation, notes, objectives, actions), brief, settings."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse

from mednet_shared.contracts.values import ISSUE_LABELS

from . import times
from .domain import forms
from .services import Answer, Services
from .sessions import Session
from .web import mediator, page, plain_error

router = APIRouter(include_in_schema=False)
ACTIONS = {"complete": "The call is marked completed.", "missed": "The call is marked missed; it will be offered "
           "again.", "reschedule": "The side is offered new times.", "waive": "The call is waived."}
SAVED = {"objectives": "The objectives are recorded.", "hours": "Your hours are saved.",
         "conferencing": "Your conferencing profile is saved."}


def case_of_call(call_id: str) -> str:
    return call_id.rpartition(":")[0]


async def _form(request: Request) -> dict[str, str]:
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


async def readiness_of(api: Services, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Answer]:
    answers = await asyncio.gather(*(api.get("notes", f"/v1/cases/{c}/sides/{p}/readiness") for c, p in pairs))
    return dict(zip(pairs, answers, strict=True))


@router.get("/", include_in_schema=False)
async def home(request: Request):
    return RedirectResponse(request.url_for("agenda"), status_code=303)


@router.get("/agenda", name="agenda")
async def agenda(request: Request, session: Session = Depends(mediator)):
    api = Services(request, session)
    found = await api.get("scheduling", f"/v1/mediators/{quote(session.mediator_id)}/agenda")
    calls = found.data["calls"] if found.ok else []
    zone = found.data.get("time_zone") if found.ok else None
    ready = await readiness_of(api, {(c["case_id"], c["party_id"]) for c in calls})
    return page(request, "mediator/agenda.html", agenda=found, days=times.by_day(calls, zone), zone=zone,
                ready=ready, times=times)


@router.get("/cases/{case_id}", name="case_page")
async def case_page(case_id: str, request: Request, session: Session = Depends(mediator)):
    api = Services(request, session)
    case, calls = await asyncio.gather(api.get("intake", f"/v1/cases/{quote(case_id)}"),
                                       api.get("scheduling", f"/v1/cases/{quote(case_id)}/calls"))
    parties = case.data["parties"] if case.ok else []
    ids = [p["party_id"] for p in parties] or [c["party_id"] for c in (calls.data["calls"] if calls.ok else [])]
    ready = await readiness_of(api, {(case_id, party) for party in ids})
    statements = dict(zip(ids, await asyncio.gather(
        *(api.get("notes", f"/v1/cases/{quote(case_id)}/sides/{quote(p)}/statement") for p in ids)), strict=True))
    zone = case.data["mediator"]["time_zone"] if case.ok else None
    return page(request, "mediator/case.html", case_id=case_id, case=case, calls=calls, parties=parties,
                sides={s["party_id"]: s for s in (case.data.get("sides", []) if case.ok else [])}, ready=ready,
                statements=statements, zone=zone, times=times)


@router.post("/cases/{case_id}/sides/{party_id}/confirm", name="confirm_side")
async def confirm_side(case_id: str, party_id: str, request: Request, session: Session = Depends(mediator)):
    """An unrepresented side is confirmed by the case's mediator (a represented one by its own firm)."""
    done = await Services(request, session).send(
        "intake", "POST", f"/v1/cases/{quote(case_id)}/sides/{quote(party_id)}/confirm", {})
    if not done.ok:
        return plain_error(request, 409 if done.status == 409 else 502, "The side was not confirmed", done.problem)
    return RedirectResponse(request.url_for("case_page", case_id=case_id), status_code=303)


@router.get("/calls/{call_id}", name="call_page")
async def call_page(call_id: str, request: Request, done: str = "", session: Session = Depends(mediator)):
    api = Services(request, session)
    case_id = case_of_call(call_id)
    case, calls, sheet, notes = await asyncio.gather(
        api.get("intake", f"/v1/cases/{quote(case_id)}"), api.get("scheduling", f"/v1/cases/{quote(case_id)}/calls"),
        api.get("notes", f"/v1/calls/{quote(call_id)}/preparation"), api.get("notes", f"/v1/calls/{quote(call_id)}/notes"))
    if not (case.ok or calls.ok or sheet.ok or notes.ok) and 404 in {case.status, sheet.status}:
        return plain_error(request, 404, "Not found", "There is no such call among your cases.")
    call = next((c for c in (calls.data["calls"] if calls.ok else []) if c["call_id"] == call_id), None)
    party_id = call["party_id"] if call else call_id.rpartition(":")[2]
    party = next((p for p in (case.data["parties"] if case.ok else []) if p["party_id"] == party_id), None)
    recorded = notes.data["objectives"] if notes.ok else []
    return page(request, "mediator/call.html", call_id=call_id, case_id=case_id, case=case, calls=calls, call=call,
                party=party, sheet=sheet, notes=notes, observations=forms.OBSERVATIONS,
                values=notes.data["observations"] if notes.ok else {}, issues=forms.ISSUES, stances=forms.STANCES,
                objective=forms.objective_fields(recorded), done=ACTIONS.get(done) or SAVED.get(done, ""),
                zone=case.data["mediator"]["time_zone"] if case.ok else None, times=times, labels=ISSUE_LABELS)


async def _save_notes(api: Services, call_id: str, observations: dict | None = None,
                      objectives: list | None = None) -> Answer:
    """One PUT of the call's notes: the half given, the other half as stored."""
    current = await api.get("notes", f"/v1/calls/{quote(call_id)}/notes")
    if not current.ok:
        return current
    body = {"observations": current.data["observations"] if observations is None else observations,
            "objectives": current.data["objectives"] if objectives is None else objectives}
    return await api.send("notes", "PUT", f"/v1/calls/{quote(call_id)}/notes", body)


@router.post("/calls/{call_id}/notes", name="save_notes")
async def save_notes(call_id: str, request: Request, session: Session = Depends(mediator)):
    """The notes editor's save (htmx or the form's button): the observations as typed; JSON says saved or why not."""
    form = await _form(request)
    saved = await _save_notes(Services(request, session), call_id,
                              observations={name: form.get(name, "") for name in forms.OBSERVATIONS})
    if request.headers.get("hx-request") or request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse({"saved": saved.ok, "problem": saved.problem}, status_code=200 if saved.ok else 502)
    if not saved.ok:
        return plain_error(request, 502, "Your notes were not saved", saved.problem)
    return RedirectResponse(request.url_for("call_page", call_id=call_id), status_code=303)


@router.post("/calls/{call_id}/objectives", name="save_objectives")
async def save_objectives(call_id: str, request: Request, session: Session = Depends(mediator)):
    try:
        objectives = forms.objectives(await _form(request))
    except forms.FormError as error:
        return plain_error(request, 422, "Please check the objectives", str(error))
    saved = await _save_notes(Services(request, session), call_id, objectives=objectives)
    if not saved.ok:
        return plain_error(request, 502, "The objectives were not recorded", saved.problem)
    return RedirectResponse(str(request.url_for("call_page", call_id=call_id)) + "?done=objectives", status_code=303)


@router.post("/calls/{call_id}/{action}", name="call_action")
async def call_action(call_id: str, action: str, request: Request, session: Session = Depends(mediator)):
    if action not in ACTIONS:
        return plain_error(request, 404, "Not found", f"There is no action {action!r} on a call.")
    form = await _form(request)
    body = None
    if action == "waive":
        body = {"reason": form.get("reason", "").strip()}
    elif action == "reschedule":
        try:
            body = {"reason": form.get("reason", "").strip(),
                    "not_before": forms.not_before(form.get("not_before", ""), form.get("zone"))}
        except forms.FormError as error:
            return plain_error(request, 422, "Please check the date", str(error))
    done = await Services(request, session).call("scheduling", "POST", f"/v1/calls/{quote(call_id)}/{action}",
                                                 json=body)
    if not done.ok:
        return plain_error(request, 409 if done.status == 409 else 502, "That was not done", done.problem)
    return RedirectResponse(str(request.url_for("call_page", call_id=call_id)) + f"?done={action}", status_code=303)


@router.get("/cases/{case_id}/brief", name="brief_page")
async def brief_page(case_id: str, request: Request, session: Session = Depends(mediator)):
    api = Services(request, session)
    brief, case = await asyncio.gather(api.get("notes", f"/v1/cases/{quote(case_id)}/brief"),
                                       api.get("intake", f"/v1/cases/{quote(case_id)}"))
    names = {p["party_id"]: f"{p['contact']['name']} ({p['role']})" for p in (case.data["parties"] if case.ok else [])}
    return page(request, "mediator/brief.html", case_id=case_id, brief=brief, case=case, names=names)


@router.get("/settings", name="settings_page")
async def settings_page(request: Request, done: str = "", session: Session = Depends(mediator)):
    api = Services(request, session)
    mediator_id = quote(session.mediator_id)
    hours, profile = await asyncio.gather(api.get("scheduling", f"/v1/mediators/{mediator_id}/availability"),
                                          api.get("scheduling", f"/v1/mediators/{mediator_id}/conferencing"))
    return page(request, "mediator/settings.html", hours=hours, profile=profile, days=forms.DAYS,
                fields=forms.availability_fields(hours.data) if hours.ok else {},
                conferencing=(profile.data.get("conferencing") or {}) if profile.ok else {},
                done=SAVED.get(done, ""))


@router.post("/settings/hours", name="save_hours")
async def save_hours(request: Request, session: Session = Depends(mediator)):
    try:
        body = forms.availability(await _form(request))
    except forms.FormError as error:
        return plain_error(request, 422, "Please check your hours", str(error))
    return await _saved_setting(request, session, "availability", body, "hours")


@router.post("/settings/conferencing", name="save_conferencing")
async def save_conferencing(request: Request, session: Session = Depends(mediator)):
    try:
        body = forms.conferencing(await _form(request))
    except forms.FormError as error:
        return plain_error(request, 422, "Please check your conferencing profile", str(error))
    return await _saved_setting(request, session, "conferencing", body, "conferencing")


async def _saved_setting(request: Request, session: Session, what: str, body: dict, done: str):
    saved = await Services(request, session).send(
        "scheduling", "PUT", f"/v1/mediators/{quote(session.mediator_id)}/{what}", body)
    if not saved.ok:
        return plain_error(request, 422 if saved.status == 422 else 502, "Not saved", saved.problem)
    return RedirectResponse(str(request.url_for("settings_page")) + f"?done={done}", status_code=303)

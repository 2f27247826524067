"""What every page shares: templates, the signed-in session, the CSRF check, errors as plain pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from .sessions import Session

COOKIE = "mednet_console"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD, CSRF_HEADER = "csrf_token", "x-csrf-token"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class SignInNeeded(Exception):
    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


def page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    return templates.TemplateResponse(request, name, {"session": session, "csrf": session.csrf if session else "",
                                                      **context}, status_code=status_code)


def plain_error(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    return page(request, "error.html", status_code, title=title, message=message)


async def signed_in(request: Request) -> Session:
    """A FastAPI dependency: the request's live session (the middleware read it), else the sign-in page."""
    session = getattr(request.state, "session", None)
    if session is None:
        raise SignInNeeded(getattr(request.state, "session_ended", ""))
    return session


async def mediator(request: Request) -> Session:
    session = await signed_in(request)
    if session.role != "mediator" or not session.mediator_id:
        raise HTTPException(403, "These pages are for mediators.")
    return session


async def read_session(request: Request) -> None:
    """Put the cookie's session on request.state; refuse an unsafe request without its session's CSRF token."""
    request.state.session = None
    cookie = request.cookies.get(COOKIE)
    if cookie:
        request.state.session_id = cookie
        request.state.session = await request.app.state.sessions.get(cookie)
        if request.state.session is not None and request.state.session.refresh_token:
            request.state.session = await request.app.state.renew(request, cookie, request.state.session)
        if request.state.session is None:
            request.state.session_ended = "Your sign-in has ended. Please sign in again."


async def csrf_given(request: Request) -> str | None:
    if request.headers.get(CSRF_HEADER):
        return request.headers[CSRF_HEADER]
    media = request.headers.get("content-type", "")
    if media.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def sign_in_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("sign_in_page"), status_code=303)


class CsrfRefused(Exception):
    pass


async def session_and_csrf(request: Request) -> None:
    """Every route's first dependency: the session, and for an unsafe method the session's CSRF token."""
    await read_session(request)
    if request.method in UNSAFE:
        session = request.state.session
        if session is None or not session.csrf_matches(await csrf_given(request)):
            raise CsrfRefused()


def open_session(request: Request, response, session_id: str) -> None:
    """Set the session cookie on a response (sign-in by link or OpenID Connect, or a side's signed link)."""
    settings = request.app.state.settings
    response.set_cookie(COOKIE, session_id, max_age=int(settings.session_hours * 3600), httponly=True,
                        secure=settings.secure_cookies, samesite="lax", path="/")

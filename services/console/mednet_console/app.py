"""Wiring of the console: its sessions (the only state), the other services' clients, the pages."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

from mednet_shared.platform import http, metrics
from mednet_shared.platform.mongo import answers, make_client

from . import login, mediator, oidc
from .config import Settings
from .sessions import MongoSessionStore, SessionStore
from .side import router as side_router
from .web import CsrfRefused, SignInNeeded, plain_error, session_and_csrf, sign_in_redirect

log = logging.getLogger("mednet.console")


class Readiness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service": "console", "ready": True, "mongodb": True}]})
    service: str
    ready: bool = Field(description="The sessions' MongoDB answers (200), else 503")
    mongodb: bool
TITLES = {400: "That request was not understood", 403: "Not allowed", 404: "Not found",
          405: "Not allowed", 409: "That cannot be done now", 410: "No longer available",
          413: "Too large", 422: "Please check what you entered", 503: "Unavailable"}


def build(settings: Settings | None = None, store: SessionStore | None = None) -> FastAPI:
    settings = settings or Settings()
    mongo = None if store is not None else make_client(settings.mongodb_url, app_name="mednet-console")
    sessions = store or MongoSessionStore(mongo[settings.database])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.http = httpx.AsyncClient(timeout=settings.service_timeout_seconds)
        try:
            await sessions.ensure_indexes()
        except Exception as error:  # the probes tell; sign-in says so in plain words
            log.warning("console sessions' indexes not created yet: %s", error)
        try:
            yield
        finally:
            await app.state.http.aclose()
            if mongo is not None:
                await mongo.close()

    app = FastAPI(title="mednet console", lifespan=lifespan, dependencies=[Depends(session_and_csrf)],
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.sessions = settings, sessions
    app.state.renew = oidc.refreshed

    @app.get("/healthz", tags=["probes"], **http.answers(http.Liveness))
    async def healthz() -> dict:
        return {"service": "console", "status": "alive"}

    @app.get("/readyz", tags=["probes"], **http.answers(Readiness, extra={503: {
        "model": Readiness, "description": "MongoDB does not answer"}}))
    async def readyz(response: Response) -> dict:
        mongo_ok = await answers(mongo, 2000) if mongo is not None else True
        metrics.DEPENDENCY_UP.labels("console", "mongodb").set(int(mongo_ok))
        response.status_code = 200 if mongo_ok else 503
        return {"service": "console", "ready": mongo_ok, "mongodb": mongo_ok}

    @app.get("/metrics", tags=["probes"], response_class=PlainTextResponse)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused):
        return plain_error(request, 403, "This form has expired",
                           "The form was sent without its security token. Go back, reload the page and try again.")

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, _: SignInNeeded):
        return sign_in_redirect(request)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        return plain_error(request, error.status_code, TITLES.get(error.status_code, "Something went wrong"),
                           str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        fields = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
        return plain_error(request, 422, TITLES[422], fields)

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception):
        log.exception("console page failed: %s", type(error).__name__)
        return plain_error(request, 500, "Something went wrong", "This page could not be shown. Please try again.")

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in (login.router, oidc.router, mediator.router):
        app.include_router(router)
    app.include_router(side_router, include_in_schema=False)
    _documented(app)
    return app


def _documented(app: FastAPI) -> None:
    """The console's OpenAPI document (not served: its pages are HTML) holds the probes, public, typed."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = http.documented(generate())
        return app.openapi_schema

    app.openapi = openapi


"""What every service's HTTP API shares: a caller is authenticated and a body bounded before one byte of it is
read, every error has one documented shape (Problem), and dates are only ISO 8601 text.

Order of the ASGI middleware, outermost first: the audit log, Authenticated (401 for /v1 without a valid
token), BoundedBody (413 past the route's limit, 415 for a body that is not JSON), then FastAPI.
A route's own limit is FastAPI's `max_body_size` (for document uploads, which check their own media type);
every other route gets the service's default and takes JSON only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import AuthError, Role, TokenPolicy, verify_token

log = logging.getLogger("mednet.http")
API_PREFIX = "/v1/"
DEFAULT_MAX_BODY_BYTES = 256 * 1024
PROBLEM_REF = "#/components/schemas/Problem"
BODY_BYTES = Counter("mednet_http_request_body_bytes", "Request body bytes the HTTP API has read", ["service"])


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the field ('' for the whole body)")
    message: str


class Problem(BaseModel):
    """The body of every error answer."""

    detail: str
    errors: list[FieldProblem] = Field(default_factory=list, description="Every invalid field (422)")


class Unprocessable(HTTPException):
    """422 with every invalid field and its message."""

    def __init__(self, detail: str, errors: list[FieldProblem] | list[dict[str, str]]) -> None:
        super().__init__(422, detail)
        self.errors = [FieldProblem.model_validate(e) if isinstance(e, dict) else e for e in errors]


def problem(status: int, detail: str, errors: list[FieldProblem] = (), headers: dict[str, str] | None = None):
    return JSONResponse(Problem(detail=detail, errors=list(errors)).model_dump(), status_code=status,
                        headers=headers)


DESCRIPTIONS = {401: "No valid bearer token", 403: "The token's role may not use this route",
                404: "Not found, or not the caller's", 409: "Conflicts with the resource's current state",
                410: "Gone for good", 413: "The body is larger than the route accepts",
                415: "The body is not application/json", 422: "The request is invalid: every field and why",
                500: "The server failed; the error is logged",
                503: "A dependency (the audit log) is unavailable; try again"}
COMMON_ERRORS = (401, 413, 415, 422, 500, 503)
BEARER = "bearer"
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                 "description": "A JWT from the mednet issuer (ES256 through its JWKS): iss mednet, aud mednet-api, "
                                "a `kid`, and `role` firm (with firm_id; at most 30 days), mediator (with "
                                "mediator_id) or operator (at most an hour). Each operation's `x-mednet-roles` names "
                                "the roles it admits."}


class Liveness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service": "intake", "status": "alive"}]})
    service: str
    status: str = Field(description="alive")


class Readiness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"service": "intake", "ready": True, "kafka": True, "mongodb": True, "started": True}]})
    service: str
    ready: bool = Field(description="Kafka and MongoDB both answer (200), else 503")
    kafka: bool
    mongodb: bool
    started: bool


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the given error statuses, each with the Problem body."""
    return {status: {"model": Problem, "description": DESCRIPTIONS[status]} for status in statuses}


def answers(model: Any, *statuses: int, status: int = 200, description: str = "Successful Response",
            extra: dict[int, dict[str, Any]] | None = None, example: Any = None) -> dict[str, Any]:
    """Route keywords documenting the success body (`model`, with an example) and the error statuses, without
    validating the answer at run time (a record written under older rules must not become a 500)."""
    success = {"model": model, "description": description}
    if example is not None:
        success["content"] = {"application/json": {"example": example}}
    return {"response_model": None, "responses": {status: success, **errors(*statuses), **(extra or {})}}


def documented_body(model: type[BaseModel], example: Any = None) -> dict[str, Any]:
    """`openapi_extra=` for a route that reads its JSON body itself: the model's schema as its request body, with
    an example."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rpartition("/")[2]])
            return {key: inline(value) for key, value in node.items()}
        return [inline(item) for item in node] if isinstance(node, list) else node

    media = {"schema": inline(schema), **({"example": example} if example is not None else {})}
    return {"requestBody": {"required": True, "content": {"application/json": media}}}


# ---- dates: only their ISO 8601 text (pydantic alone takes 0, or "0", as 1970-01-01) ----

def _iso(what: str, pattern: str, example: str) -> Callable[[object], object]:
    shape = re.compile(pattern)

    def check(value: object) -> object:
        if isinstance(value, (date, time)):
            return value
        if not isinstance(value, str) or not shape.fullmatch(value):
            raise ValueError(f"{what} must be ISO 8601 text, e.g. {example}")
        return value

    return check


_SECONDS = r"(:\d{2}(\.\d{1,6})?)?"
date_text = _iso("a date", r"\d{4}-\d{2}-\d{2}", "2026-03-31")
time_text = _iso("a time", r"\d{2}:\d{2}" + _SECONDS, "09:30")
datetime_text = _iso("a date-time", r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}" + _SECONDS + r"([Zz]|[+-]\d{2}:\d{2})",
                     "2026-03-31T09:30:00+02:00")
IsoDate = Annotated[date, BeforeValidator(date_text)]
IsoTime = Annotated[time, BeforeValidator(time_text)]
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(datetime_text)]


def temporal_problems(model: BaseModel, raw: object) -> list[FieldProblem]:
    """Every date, time or date-time of a validated model that `raw` did not give as ISO 8601 text (for
    contracts that are validated leniently elsewhere): the path of each and why."""
    found: list[FieldProblem] = []

    def walk(value: object, given: object, path: str) -> None:
        if isinstance(value, BaseModel) and isinstance(given, dict):
            for name, field in type(value).model_fields.items():
                key = field.alias or name
                if key in given:
                    walk(getattr(value, name), given[key], f"{path}.{key}" if path else key)
        elif isinstance(value, (list, tuple)) and isinstance(given, list):
            for index, (item, raw_item) in enumerate(zip(value, given, strict=False)):
                walk(item, raw_item, f"{path}.{index}")
        elif isinstance(value, (date, time)):
            check = datetime_text if isinstance(value, datetime) else date_text if isinstance(value, date) \
                else time_text
            try:
                check(given)
            except ValueError as error:
                found.append(FieldProblem(field=path, message=str(error)))

    walk(model, raw, "")
    return found


# ---- ASGI middleware ----

def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


PUBLIC_API_PATHS: set[str] = set()
"""/v1 paths answered without a bearer token, each guarding itself (scheduling's signed links carry their own
token); exact paths, added by the service that serves them."""


def _api(scope: Scope) -> bool:
    """Whether the request is for the /v1 API (below the root path the app may be mounted at) and needs a token."""
    path, root = scope["path"], scope.get("root_path", "")
    path = path[len(root):] if root and path.startswith(root) else path
    return path.startswith(API_PREFIX) and path not in PUBLIC_API_PATHS


def _has_body(scope: Scope) -> bool:
    return _header(scope, b"transfer-encoding") is not None or (_header(scope, b"content-length") or "0") != "0"


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str,
                  headers: dict[str, str] | None = None) -> None:
    """Answer without reading the body; an unread body means the connection cannot be reused."""
    headers = dict(headers or {})
    if _has_body(scope):
        headers["connection"] = "close"
    await problem(status, detail, headers=headers)(scope, receive, send)


class Authenticated:
    """401 for a /v1 request without a valid bearer token, before its body is read; the Principal is kept on
    request.state (as the `caller` dependency keeps it) and so is the reason of a refusal, for the audit log."""

    def __init__(self, app: ASGIApp, policy_of: Callable[[Request], TokenPolicy]) -> None:
        self.app = app
        self.policy_of = policy_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _api(scope):
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            state["auth_failure"] = "no bearer token"
            return await _refuse(scope, receive, send, 401, "a bearer token is required",
                                 {"WWW-Authenticate": "Bearer"})
        try:
            state["principal"] = await run_in_threadpool(verify_token, self.policy_of(Request(scope)), token)
        except AuthError as error:
            state["auth_failure"] = str(error)
            return await _refuse(scope, receive, send, 401, str(error), {"WWW-Authenticate": "Bearer"})
        await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    pass


def _flat(routes):
    """The routes themselves, also those of included routers (FastAPI 0.13x wraps each in an _IncludedRouter,
    which carries no max_body_size of its own)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        yield from _flat(original.routes) if original is not None else (route,)


class BoundedBody:
    """413 as soon as a body passes its route's limit: at once for a Content-Length over it, else as the bytes
    arrive; 415 for a body that is not JSON (except on routes with a limit of their own)."""

    def __init__(self, app: ASGIApp, service: str, default_limit: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.default_limit = default_limit
        self.read = BODY_BYTES.labels(service)

    def limit_of(self, scope: Scope) -> tuple[int, bool]:
        """(the byte limit, whether the route set it itself)."""
        for route in _flat(getattr(getattr(scope.get("app"), "router", None), "routes", ())):
            if route.matches(scope)[0] is Match.FULL:
                own = getattr(route, "max_body_size", None)
                return (own, True) if own is not None else (self.default_limit, False)
        return self.default_limit, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, own = self.limit_of(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _refuse(scope, receive, send, 413, f"the body is larger than {limit} bytes")
        media = (_header(scope, b"content-type") or "").partition(";")[0].strip().lower()
        if not own and _has_body(scope) and _api(scope) and not _json(media):
            return await _refuse(scope, receive, send, 415, "the body must be application/json")

        received, exceeded, started, unread = 0, False, False, _has_body(scope)

        async def counted() -> Message:
            nonlocal received, exceeded, unread
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                self.read.inc(len(message.get("body", b"")))
                unread = message.get("more_body", False)
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(f"the body is larger than {limit} bytes")
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:
                return
            if message["type"] == "http.response.start":
                started = True
                if unread:   # answered without reading the whole body: close rather than drain it
                    message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            if started:
                log.warning("%s %s: the body passed %d bytes after the answer had begun", scope["method"],
                            scope["path"], limit)
            else:
                await _refuse(scope, receive, send, 413, f"the body is larger than {limit} bytes")


def _json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


# ---- error handlers and the OpenAPI document ----

async def validation_failed(_: Request, error: RequestValidationError) -> JSONResponse:
    """Every invalid field with its message, never the submitted value (it may be confidential)."""
    found = [FieldProblem(field=".".join(str(part) for part in e["loc"][1:] or e["loc"]), message=e["msg"])
             for e in error.errors()]
    return problem(422, "the request is invalid", found)


async def http_failed(_: Request, error: HTTPException) -> JSONResponse:
    detail = error.detail if isinstance(error.detail, str) else "the request failed"
    return problem(error.status_code, detail, getattr(error, "errors", []), getattr(error, "headers", None))


async def server_failed(_: Request, error: Exception) -> JSONResponse:
    return problem(500, "the server failed; the error is logged")


def install(app: FastAPI, service: str, policy_of: Callable[[Request], TokenPolicy], max_body_bytes: int) -> None:
    """Error handlers, the middleware and the documented errors, on a service's app (before the audit log)."""
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(HTTPException, http_failed)
    app.add_exception_handler(Exception, server_failed)
    app.add_middleware(BoundedBody, service=service, default_limit=max_body_bytes)
    app.add_middleware(Authenticated, policy_of=policy_of)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = documented(generate(), access_of_routes(app))
        return app.openapi_schema

    app.openapi = openapi


Access = tuple[frozenset[Role], bool]


def access_of(route: APIRoute) -> Access | None:
    """The roles a route admits and whether any other gets 404 (else 403), from the role checks among its
    dependencies (auth.require, auth.caller): the narrowest decides. None: no role check at all."""
    checks = []

    def walk(dependant) -> None:
        for sub in dependant.dependencies:
            if isinstance(getattr(sub.call, "roles", None), frozenset):
                checks.append(sub.call)
            walk(sub)

    walk(route.dependant)
    if not checks:
        return None
    roles = frozenset.intersection(*(check.roles for check in checks))
    return roles, any(check.hidden for check in checks if check.roles == roles)


def access_of_routes(app: FastAPI) -> dict[tuple[str, str], Access | None]:
    return {(route.path_format, method.lower()): access_of(route) for route in _flat(app.router.routes)
            if isinstance(route, APIRoute) for method in route.methods}


def _roles_text(roles: frozenset[Role], hidden: bool) -> str:
    names = [str(role) for role in Role if role in roles]
    others = "404, as if nothing were there" if hidden else "403"
    return f"Roles: {', '.join(names)}" + (f" (any other role: {others})." if len(names) < len(Role) else ".")


def documented(schema: dict[str, Any], access: dict[tuple[str, str], Access | None] | None = None) -> dict[str, Any]:
    """Every /v1 operation: its security (bearer JWT; a public path keeps the signed-link scheme of its own Security
    dependency), the roles it admits (`x-mednet-roles`, from its dependencies; `x-mednet-others`: what any other
    role gets) and its errors, all with the Problem body; FastAPI's own 422 shape, which the API never sends,
    dropped."""
    access = access or {}
    components = schema.setdefault("components", {})
    models = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        models.pop(name, None)
    definitions = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    models.update(definitions.pop("$defs", {}))
    models["Problem"] = definitions
    components.setdefault("securitySchemes", {})[BEARER] = BEARER_SCHEME
    body = {"application/json": {"schema": {"$ref": PROBLEM_REF}}}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            for operation in operations.values():
                operation["security"] = []
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = set(COMMON_ERRORS) | {int(status) for status in responses if status.isdigit()}
            if path in PUBLIC_API_PATHS:   # its own scheme, from the route's Security dependency
                operation.setdefault("security", [])
                operation["x-mednet-roles"] = []
                keys = ", ".join(name for requirement in operation["security"] for name in requirement)
                text = f"Public: no bearer token; the key is {keys or 'nothing (fix this route)'}."
            else:
                roles, hidden = access.get((path, method)) or (frozenset(Role), False)
                operation["security"] = [{BEARER: []}]
                operation["x-mednet-roles"] = [str(role) for role in Role if role in roles]
                if roles != frozenset(Role):
                    operation["x-mednet-others"] = 404 if hidden else 403
                    statuses.add(operation["x-mednet-others"])
                text = _roles_text(roles, hidden)
            operation["description"] = "\n\n".join(filter(None, (operation.get("description"), text)))
            for status in sorted(statuses & set(DESCRIPTIONS)):
                known = responses.get(str(status), {})
                responses[str(status)] = {**known, "description": DESCRIPTIONS[status],
                                          "content": {**body, **{k: v for k, v in known.get("content", {}).items()
                                                                 if k != "application/json"}}}
            if "401" in responses:
                responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return schema

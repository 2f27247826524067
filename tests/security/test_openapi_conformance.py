"""schemathesis against every service's OpenAPI document, in-process on the real broker and database, with a
token of every role: no answer is a server error, and every answer (status, content type, headers, body) is
one the document declares. And the roles each operation documents (`x-mednet-roles`) are exactly the roles its
dependencies let through: every other role is refused (403, or 404 where the route hides itself), none of these."""

from __future__ import annotations

import asyncio
import importlib
import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)
from schemathesis.python import asgi

from mednet_shared.platform.auth import Role, TokenPolicy, issue_token
from routes import SERVICES
from services_harness import settings_for, skip_history

pytestmark = [pytest.mark.timeout(600),
              pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")]
EXAMPLES = int(os.environ.get("MEDNET_SCHEMATHESIS_EXAMPLES", "12"))   # per operation and role; more for a deep run
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


VALUES = {"case_id": "case-0", "call_id": "case-0:p1", "endpoint_id": "e-0", "recipient": "someone@example.org",
          "party_id": "p1", "offer_id": "case-0:p1:offer-1", "item": "agreement_signed", "document_id": "doc-0"}
REFUSALS = {403: "this needs a", 404: "nothing of yours is here"}   # auth.require's own answers


def tokens(app, unique: str) -> dict[Role, str]:
    policy = TokenPolicy.of(app.state.runtime.settings)
    return {Role.FIRM: issue_token(policy, Role.FIRM, firm_id=f"firm-{unique}"),
            Role.MEDIATOR: issue_token(policy, Role.MEDIATOR, mediator_id=f"med-{unique}"),
            Role.OPERATOR: issue_token(policy, Role.OPERATOR)}


def refused(response, status: int) -> bool:
    return response.status_code == status and REFUSALS[status] in response.json().get("detail", "")


def role_mismatches(schema, tokens: dict[Role, str], unique: str) -> list[str]:
    """Each bearer operation called with a token of every role (its own mediator's calendar, unknown cases): a
    role it documents is never refused for its role, any other always is."""
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        definition = operation.definition.raw
        if "x-mednet-others" not in definition and not definition.get("x-mednet-roles"):
            continue   # a probe or a signed link
        values = {**VALUES, "mediator_id": f"med-{unique}"}
        parameters = [(p["name"], p["in"]) for p in definition.get("parameters", []) if p["in"] == "path"
                      or p.get("required")]
        for role, token in tokens.items():
            case = operation.Case(path_parameters={n: values[n] for n, where in parameters if where == "path"},
                                  query={n: values[n] for n, where in parameters if where == "query"} or None,
                                  headers={"Authorization": f"Bearer {token}"},
                                  **({"body": {}, "media_type": "application/json"}
                                     if "application/json" in definition.get("requestBody", {}).get("content", {})
                                     else {}))
            response = case.call()
            if role in definition["x-mednet-roles"]:
                if any(refused(response, status) for status in REFUSALS if response.status_code == status):
                    found.append(f"{operation.label} refuses a {role} token it documents: {response.text}")
            elif not refused(response, definition.get("x-mednet-others", 403)):
                found.append(f"{operation.label} lets a {role} token through (documented: "
                             f"{definition['x-mednet-roles']}): {response.status_code} {response.text[:200]}")
    return found


def started(service: str, infrastructure, unique: str):
    module = importlib.import_module(f"mednet_{service}.app")
    configured = settings_for(service, infrastructure, unique)
    if getattr(module, "CONSUMES", None):
        asyncio.run(skip_history(configured.kafka_bootstrap_servers, configured.consumer_group, module.CONSUMES))
    app = module.build(configured)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)   # starts the app's lifespan
    deadline = time.monotonic() + 60
    while not app.state.runtime.connected.is_set():
        assert time.monotonic() < deadline, f"{service} never connected to Kafka and MongoDB"
        time.sleep(0.2)
    return app, schema


def violations(schema, role: Role, token: str) -> list[str]:
    """schemathesis on every operation this role may use (the others' refusal is role_mismatches'); the probes and
    the signed links, which take no bearer token, once (as the first role)."""
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        admitted = operation.definition.raw.get("x-mednet-roles") or [str(next(iter(Role)))]
        if str(role) not in admitted:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def conforms(case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            conforms()
        except (Exception, BaseExceptionGroup) as failure:   # schemathesis's failure group, or a check's failure
            found.append(f"{operation.label}: {failure}")
    return found


def test_every_service_conforms_to_its_openapi_with_a_token_of_every_role(infrastructure, unique):
    found = []
    for service in SERVICES:
        started_at = time.monotonic()
        app, schema = started(service, infrastructure, unique)
        try:
            found += [f"{service}: {v}" for v in role_mismatches(schema, tokens(app, unique), unique)]
            for role, token in tokens(app, unique).items():
                found += [f"{service} as {role}: {v}" for v in violations(schema, role, token)]
        finally:
            asgi.shutdown_lifespans()
        print(f"\n[openapi] {service}: {len(list(schema.get_all_operations()))} operations in "
              f"{time.monotonic() - started_at:.1f} s")
    assert not found, "\n\n".join(found)

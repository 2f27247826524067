"""schemathesis against every service's OpenAPI document, in-process on the real broker and database, with a
token of every role: no answer is a server error, and every answer (status, content type, headers, body) is
one the document declares."""

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


def tokens(app, unique: str) -> dict[Role, str]:
    policy = TokenPolicy.of(app.state.runtime.settings)
    return {Role.FIRM: issue_token(policy, Role.FIRM, firm_id=f"firm-{unique}"),
            Role.MEDIATOR: issue_token(policy, Role.MEDIATOR, mediator_id=f"med-{unique}"),
            Role.OPERATOR: issue_token(policy, Role.OPERATOR)}


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


def violations(schema, token: str) -> list[str]:
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()

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
        app, schema = started(service, infrastructure, unique)
        try:
            for role, token in tokens(app, unique).items():
                found += [f"{service} as {role}: {v}" for v in violations(schema, token)]
        finally:
            asgi.shutdown_lifespans()
    assert not found, "\n\n".join(found)

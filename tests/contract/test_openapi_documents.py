"""Each service's OpenAPI document, built from its routes without a broker or database: valid OpenAPI 3.1
(openapi-spec-validator), checked in under docs/openapi and up to date, every /v1 operation with its security and
roles, every answer and body typed, every error with the one Problem body, and every example valid against its
schema. `python tests/contract/test_openapi_documents.py` writes the documents again."""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ROOT / "docs" / "openapi"
SERVICES = sorted(p.parent.name.removeprefix("mednet_") for p in ROOT.glob("services/*/mednet_*/app.py"))
UNREACHABLE = types.SimpleNamespace(kafka_bootstrap_servers="127.0.0.1:1", mongodb_url="mongodb://127.0.0.1:1/")
JSON = "application/json"
BODY_METHODS = {"post", "put", "patch"}


def document_of(service: str) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from services_harness import settings_for

    app = importlib.import_module(f"mednet_{service}.app").build(settings_for(service, UNREACHABLE, "openapi"))
    return app.openapi()


@pytest.fixture(scope="module", params=SERVICES)
def documents(request) -> dict[str, dict]:
    """One service's document (each service a test of its own)."""
    return {request.param: document_of(request.param)}


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", path, method, operation


def resolved(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return schema


def untyped(document: dict, schema: dict) -> bool:
    """An object that says nothing of its properties (FastAPI's answer for a bare `dict`)."""
    schema = resolved(document, schema)
    return schema == {} or (schema.get("type") == "object" and not schema.get("properties")
                            and schema.get("additionalProperties", True) is True)


def examples_of(document: dict, media: dict) -> list:
    schema = media.get("schema", {})
    found = [media["example"]] if "example" in media else [e["value"] for e in media.get("examples", {}).values()]
    for candidate in (schema, resolved(document, schema), *(resolved(document, s) for s in schema.get("allOf", []))):
        found += candidate.get("examples", [])
    if schema.get("type") == "array" and not found:
        found += [[item] for item in examples_of(document, {"schema": schema.get("items", {})})]
    return found


def test_the_services_are_all_there():
    assert {"intake", "scheduling", "notes", "notify"} <= set(SERVICES)


def test_each_document_is_valid_openapi(documents):
    for service, document in documents.items():
        validate(document)   # raises with the path of the first violation
        assert document["openapi"].startswith("3.1"), service


def test_the_checked_in_documents_are_up_to_date(documents):
    stale = [service for service, document in documents.items()
             if not (DOCUMENTS / f"{service}.json").exists()
             or json.loads((DOCUMENTS / f"{service}.json").read_text()) != document]
    assert not stale, f"docs/openapi is out of date for {stale}: run python tests/contract/test_openapi_documents.py"


def test_every_api_operation_states_its_security_and_roles(documents):
    for service, document in documents.items():
        schemes = document.get("components", {}).get("securitySchemes", {})
        assert not any(path.startswith("/v1/") for path in document["paths"]) or \
            schemes.get("bearer", {}).get("bearerFormat") == "JWT", f"{service}: no bearer scheme (http.install)"
        for name, path, _, operation in operations(document):
            if not path.startswith("/v1/"):
                assert operation.get("security") == [], f"{service} {name}: a probe is public (http.install)"
                continue
            [requirement] = operation["security"] or [{}]
            assert len(requirement) == 1 and set(requirement) <= set(schemes), f"{service} {name}: {requirement}"
            if "bearer" not in requirement:   # a signed link's own key
                assert operation["x-mednet-roles"] == [] and schemes[next(iter(requirement))]["description"], name
                continue
            roles = operation["x-mednet-roles"]
            assert roles and set(roles) <= {"firm", "mediator", "operator"}, f"{service} {name}: {roles}"
            assert f"Roles: {', '.join(roles)}" in operation["description"], f"{service} {name}"
            if len(roles) < 3:
                assert str(operation["x-mednet-others"]) in operation["responses"], f"{service} {name}"


def test_every_body_and_answer_is_typed_and_every_error_is_a_problem(documents):
    found = []
    for service, document in documents.items():
        for name, path, method, operation in operations(document):
            body = operation.get("requestBody", {}).get("content", {}).get(JSON)
            if body is not None and untyped(document, body["schema"]):
                found.append(f"{service} {name}: untyped request body")
            for status, answer in operation["responses"].items():
                media = answer.get("content", {})
                if status.startswith(("4", "5")) and path.startswith("/v1/"):
                    if media.get(JSON, {}).get("schema") != {"$ref": "#/components/schemas/Problem"}:
                        found.append(f"{service} {name} {status}: not the Problem body")
                elif JSON in media and untyped(document, media[JSON]["schema"]):
                    found.append(f"{service} {name} {status}: untyped answer")
                elif status.startswith("2") and status != "204" and not media:
                    found.append(f"{service} {name} {status}: no content documented")
    assert not found, "\n".join(found)


def test_every_json_body_and_answer_has_an_example_that_matches_its_schema(documents):
    missing, invalid = [], []
    for service, document in documents.items():
        for name, path, method, operation in operations(document):
            media = [("request", operation.get("requestBody", {}).get("content", {}).get(JSON))]
            media += [(status, answer.get("content", {}).get(JSON)) for status, answer in operation["responses"].items()
                      if status.startswith("2")]
            for what, content in media:
                if content is None:
                    continue
                examples = examples_of(document, content)
                if not examples:
                    missing.append(f"{service} {name} {what}")
                for example in examples:
                    schema = {**content["schema"], "components": document["components"]}
                    try:
                        jsonschema.validate(example, schema, cls=jsonschema.Draft202012Validator)
                    except jsonschema.ValidationError as error:
                        invalid.append(f"{service} {name} {what}: {error.message} at {list(error.absolute_path)}")
    assert not invalid, "\n".join(invalid)
    assert not missing, "no example: " + "\n".join(missing)


if __name__ == "__main__":
    DOCUMENTS.mkdir(parents=True, exist_ok=True)
    for name in SERVICES:
        (DOCUMENTS / f"{name}.json").write_text(json.dumps(document_of(name), indent=2, sort_keys=True) + "\n")
        print(f"docs/openapi/{name}.json")

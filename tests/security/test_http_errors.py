"""Every error status the API answers (401, 403, 404, 409, 413, 415, 422) has the one documented body, and the
operation that answered it documents that status; dates over HTTP are ISO 8601 text only (0 is not
1970-01-01)."""

from __future__ import annotations

import importlib

import httpx
import jsonschema
import pytest

from mednet_shared.platform.auth import Role
from sample_cases import submission, variant
from services_harness import client, services, settings_for

pytestmark = pytest.mark.timeout(300)


def problem_checker(app):
    document = app.openapi()

    def check(response: httpx.Response, method: str, template: str) -> dict:
        operation = document["paths"][template][method]
        assert str(response.status_code) in operation["responses"], \
            f"{method.upper()} {template} does not document {response.status_code}"
        documented = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
        assert documented == {"$ref": "#/components/schemas/Problem"}
        body = response.json()
        jsonschema.validate(body, {**document, "$ref": "#/components/schemas/Problem"})
        assert set(body) == {"detail", "errors"} and body["detail"], body
        return body

    return check


async def test_every_error_status_has_the_documented_shape(infrastructure, unique):
    firm = f"firm-{unique}"
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        intake, scheduling = apps["intake"][0], apps["scheduling"][0]
        check, check_intake = problem_checker(scheduling), problem_checker(intake)
        availability = "/v1/mediators/{mediator_id}/availability"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=scheduling), base_url="http://s") as anonymous:
            refused = await anonymous.get("/v1/cases/c-1/calls")
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            check(refused, "get", "/v1/cases/{case_id}/calls")
        async with client(scheduling, Role.FIRM, firm_id=firm) as a_firm:
            forbidden = await a_firm.post("/v1/calls/c-1:p1/complete")
            assert forbidden.status_code == 403
            check(forbidden, "post", "/v1/calls/{call_id}/complete")
        async with client(scheduling, Role.OPERATOR) as operator:
            missing = await operator.get("/v1/cases/no-such-case/calls")
            assert missing.status_code == 404
            check(missing, "get", "/v1/cases/{case_id}/calls")
            large = await operator.put("/v1/mediators/m-1/availability", content=b" " * (300 * 1024),
                                       headers={"content-type": "application/json"})
            assert large.status_code == 413
            check(large, "put", availability)
            text = await operator.put("/v1/mediators/m-1/availability", content=b"blackout_days=2026-01-01",
                                      headers={"content-type": "text/plain"})
            assert text.status_code == 415
            check(text, "put", availability)
            invalid = await operator.put("/v1/mediators/m-1/availability", json={"blackout_days": [0]})
            assert invalid.status_code == 422
            assert check(invalid, "put", availability)["errors"][0]["field"] == "blackout_days.0"
        async with client(intake, Role.FIRM, firm_id=firm) as owner:
            created = await owner.post("/v1/cases", json=submission(f"shape-{unique}", mediator_id=f"med-{unique}"))
            assert created.status_code == 201, created.text
            case_id = created.json()["case_id"]
            assert (await owner.post(f"/v1/cases/{case_id}/withdraw", json={})).status_code == 200
            again = await owner.post(f"/v1/cases/{case_id}/withdraw", json={})
            assert again.status_code == 409
            check_intake(again, "post", "/v1/cases/{case_id}/withdraw")
            rejected = await owner.post("/v1/cases", json={"external_ref": "x"})
            assert rejected.status_code == 422
            assert check_intake(rejected, "post", "/v1/cases")["errors"]


NOT_DATES = {
    "blackout day 0": ({"blackout_days": [0]}, "blackout_days.0"),
    "blackout day '0'": ({"blackout_days": ["0"]}, "blackout_days.0"),
    "blackout day 13th month": ({"blackout_days": ["2026-13-01"]}, "blackout_days.0"),
    "blackout day as a date-time": ({"blackout_days": ["2026-01-01T00:00:00Z"]}, "blackout_days.0"),
    "override keyed '0'": ({"date_overrides": {"0": [{"start": "09:00", "end": "12:00"}]}}, "date_overrides.0.[key]"),
    "override hours 0": ({"date_overrides": {"2026-01-05": [{"start": 0, "end": "12:00"}]}},
                         "date_overrides.2026-01-05.0.start"),
    "weekly window of seconds": ({"weekly": [{"day": "mon", "start": 0, "end": 3600}]}, "weekly.0.start"),
}


async def test_dates_are_iso_8601_text_only(infrastructure, unique):
    mediator = f"med-{unique}"
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        intake, scheduling = apps["intake"][0], apps["scheduling"][0]
        async with client(scheduling, Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            path = f"/v1/mediators/{mediator}/availability"
            for name, (body, field) in NOT_DATES.items():
                answer = await the_mediator.put(path, json=body)
                assert answer.status_code == 422, f"{name}: {answer.status_code} {answer.text}"
                assert field in [e["field"] for e in answer.json()["errors"]], f"{name}: {answer.json()}"
            assert (await the_mediator.get(path)).json()["blackout_days"] == []
            valid = await the_mediator.put(path, json={"blackout_days": ["2026-12-24"], "date_overrides": {
                "2026-12-23": [{"start": "09:00", "end": "12:00"}]}, "weekly": [
                {"day": "mon", "start": "09:00", "end": "17:00"}]})
            assert valid.status_code == 200, valid.text
            assert valid.json()["blackout_days"] == ["2026-12-24"]
            late = await the_mediator.post("/v1/calls/c-1:p1/reschedule", json={"not_before": 0})
            assert late.status_code == 422 and late.json()["errors"][0]["field"] == "not_before"
        async with client(intake, Role.FIRM, firm_id=f"firm-{unique}") as a_firm:
            document = submission(f"dates-{unique}", mediator_id=mediator)
            for value in (0, "1700000000"):
                answer = await a_firm.post("/v1/cases", json=variant(document, "session.start", value))
                assert answer.status_code == 422, answer.text
                assert "session.start" in [e["field"] for e in answer.json()["errors"]], answer.json()
            assert (await a_firm.post("/v1/cases", json=document)).status_code == 201


async def test_a_time_zone_no_file_can_be_named_after_is_a_422_not_a_500(infrastructure, unique):
    """Found by schemathesis: a zone name too long for a file name made the zone lookup raise OSError."""
    async with services(infrastructure, unique, "intake") as apps:
        async with client(apps["intake"][0], Role.FIRM, firm_id=f"firm-{unique}") as a_firm:
            document = submission(f"zone-{unique}", mediator_id=f"med-{unique}")
            for zone in ("Europe/" + "x" * 300, "a\x00b", "../../etc/passwd"):
                answer = await a_firm.post("/v1/cases", json=variant(document, "session.time_zone", zone))
                assert answer.status_code == 422, f"{zone[:20]!r}: {answer.status_code}"
                assert "session.time_zone" in [e["field"] for e in answer.json()["errors"]], answer.json()


async def test_the_api_needs_a_token_below_a_root_path_too(infrastructure, unique):
    """Mounted below a root path (behind a proxy), /v1 is still refused without a token before routing."""
    app = importlib.import_module("mednet_intake.app").build(settings_for("intake", infrastructure, unique))
    transport = httpx.ASGITransport(app=app, root_path="/intake")
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as anonymous:
        refused = await anonymous.post("/intake/v1/cases/c-1/withdraw", content=b"{not json",
                                       headers={"content-type": "application/json"})   # parsed before deps
        assert refused.status_code == 401 and refused.json()["detail"] == "a bearer token is required"
        assert (await anonymous.get("/intake/healthz")).status_code == 200

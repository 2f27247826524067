"""`mednet firms revoke` ends every HTTP token of the firm on services that are already running (processes that
read the stack issuer's JWKS), within their JWKS refresh period, without a restart; other firms and staff keep
working. A firm's second `firms add` (credential rotation) ends its earlier tokens the same way."""

from __future__ import annotations

import time

import httpx
import pytest
from typer.testing import CliRunner

from mednet_cli import fleet
from mednet_cli.main import app as cli
from mednet_cli.tokens import Issuer
from mednet_shared.platform.auth import Role
from mednet_shared.platform.settings import ServiceSettings
from service_processes import start_service, terminate, wait_status

pytestmark = pytest.mark.timeout(300)
REFRESH_SECONDS = 2


def mednet(secure, *arguments: str) -> str:
    result = CliRunner().invoke(cli, [*arguments, "--data-dir", str(secure.stack.data_dir)], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    return result.output


def token_in(output: str) -> str:
    return next(line.split("│")[2].strip() for line in output.splitlines() if "│ HTTP bearer token " in line)


@pytest.fixture
def intake(secure, infrastructure, tmp_path):
    """An intake process that verifies through the secured stack's published JWKS, refreshed every 2 s."""
    jwks = {"MEDNET_JWT_JWKS_URL": fleet.local_secrets(secure.stack.data_dir)["MEDNET_JWT_JWKS_URL"],
            "MEDNET_JWT_JWKS_REFRESH_SECONDS": str(REFRESH_SECONDS)}
    process, url = start_service("intake", infrastructure.kafka_bootstrap_servers, infrastructure.mongodb_url,
                                 tmp_path / "intake.log", jwt=jwks)
    try:
        wait_status(url, 200)
        yield url
    finally:
        terminate(process)


def status(url: str, token: str) -> int:
    return httpx.get(f"{url}/v1/cases/no-such-case", headers={"Authorization": f"Bearer {token}"}).status_code


def answer(url: str, token: str) -> str:
    return httpx.get(f"{url}/v1/cases/no-such-case", headers={"Authorization": f"Bearer {token}"}).text


def seconds_until_refused(url: str, token: str, limit: float = 60.0) -> float:
    started = time.monotonic()
    while (code := status(url, token)) != 401:
        assert code == 404, code
        if time.monotonic() - started > limit:
            raise AssertionError(f"the token still works {limit:.0f} s after the revocation")
        time.sleep(0.25)
    return time.monotonic() - started


def test_a_revoked_firms_tokens_fail_within_the_refresh_period(secure, intake, unique):
    firm_id = f"revoked-{unique[:8]}"
    token = token_in(mednet(secure, "firms", "add", firm_id, "--token-days", "30"))
    other = Issuer(secure.stack.data_dir).issue(Role.FIRM, firm_id=secure.firm_a.firm_id)
    staff = Issuer(secure.stack.data_dir).issue(Role.OPERATOR, subject="test")
    deadline = time.monotonic() + 2 * REFRESH_SECONDS + 10
    while status(intake, token) != 404:
        assert time.monotonic() < deadline, f"the new firm's token was never accepted: {answer(intake, token)}"
        time.sleep(0.25)
    assert status(intake, other) == 404 and status(intake, staff) == 404

    assert f"{firm_id} revoked" in mednet(secure, "firms", "revoke", firm_id, "--yes")
    assert seconds_until_refused(intake, token) <= REFRESH_SECONDS + 1
    refused = httpx.get(f"{intake}/v1/cases/no-such-case", headers={"Authorization": f"Bearer {token}"})
    assert "unknown key id" in refused.json()["detail"]
    assert status(intake, other) == 404 and status(intake, staff) == 404


def test_adding_a_firm_again_ends_its_earlier_tokens(secure, intake, unique):
    firm_id = f"rotated-{unique[:8]}"
    first = token_in(mednet(secure, "firms", "add", firm_id))
    second = token_in(mednet(secure, "firms", "add", firm_id))
    deadline = time.monotonic() + 2 * REFRESH_SECONDS + 10
    while status(intake, second) != 404:
        assert time.monotonic() < deadline, "the rotated token was never accepted"
        time.sleep(0.25)
    assert seconds_until_refused(intake, first) <= REFRESH_SECONDS + 1


def test_by_default_services_read_the_jwks_again_at_least_once_a_minute():
    field = ServiceSettings.model_fields["jwt_jwks_refresh_seconds"]
    assert field.default_factory() == "60"
    assert any(getattr(rule, "le", None) == 60 for rule in field.metadata)

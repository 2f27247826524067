"""`mednet fuzz` (and the fuzz test) give their intake instances the tokens of the run's own issuer, like the demo:
no HS256 key set from the caller's environment is needed, and one inherited from it is switched off."""

import os

from rich.console import Console

from mednet_cli.chaos.fuzz import FuzzRun
from mednet_cli.tokens import Issuer
from mednet_shared.platform.auth import Role, TokenPolicy


def test_the_fuzz_runs_intake_verifies_the_runs_own_issuer(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDNET_JWT_KEYS", raising=False)
    monkeypatch.delenv("MEDNET_JWT_JWKS_URL", raising=False)
    run = FuzzRun("127.0.0.1:1", "mongodb://127.0.0.1:1", tmp_path, Console(quiet=True), hostile=1, valid=0)
    policy = TokenPolicy.from_environment({**os.environ, **run.environment})
    assert policy.jwks_url == (tmp_path / "jwks.json").resolve().as_uri()
    kids = {key["kid"] for key in __import__("json").loads((tmp_path / "jwks.json").read_text())["keys"]}
    assert Issuer(tmp_path).state["staff"]["kid"] in kids


def test_an_hs256_key_set_in_the_callers_environment_does_not_reach_the_instances(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDNET_JWT_KEYS", '{"k1": "' + "x" * 43 + '"}')
    monkeypatch.setenv("MEDNET_JWT_ACTIVE_KID", "k1")
    run = FuzzRun("127.0.0.1:1", "mongodb://127.0.0.1:1", tmp_path, Console(quiet=True), hostile=1, valid=0)
    policy = TokenPolicy.from_environment({**os.environ, **run.environment})
    assert policy.jwks_url and not policy.keys
    assert Issuer(tmp_path).issue(Role.OPERATOR, subject="fuzz")

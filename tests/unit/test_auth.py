"""Token policy: exactly one of a JWKS or an HS256 key set (no default, no fallback kid, the single secret retired),
the key set's rotation, ES256/RS256 through a JWKS URL or file refreshed at least once a minute, lifetimes per
role, and firm-scoped keys that sign only their own firm's tokens."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mednet_cli.tokens import Issuer
from mednet_notes.config import Settings as NotesSettings
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform import auth
from mednet_shared.platform.auth import AuthError, Role, TokenPolicy, issue_token, token_claims, verify_token

K1, K2 = "first-secret-of-at-least-32-bytes+", "second-secret-of-at-least-32-bytes+"


def policy(active: str = "k1", **keys: str) -> TokenPolicy:
    return TokenPolicy.parse(json.dumps(keys or {"k1": K1}), active)


def test_a_token_names_its_key_and_carries_the_callers_scope():
    token = issue_token(policy(), Role.FIRM, firm_id="firm-a")
    assert jwt.get_unverified_header(token)["kid"] == "k1"
    principal = verify_token(policy(), token)
    assert (principal.role, principal.firm_id, principal.subject) == (Role.FIRM, "firm-a", "firm-a")


def test_rotation_add_a_key_switch_to_it_then_drop_the_old_one():
    old_token = issue_token(policy(), Role.OPERATOR)
    both = policy("k2", k1=K1, k2=K2)
    new_token = issue_token(both, Role.OPERATOR)
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    assert verify_token(both, old_token).role is Role.OPERATOR
    only_new = policy("k2", k2=K2)
    assert verify_token(only_new, new_token).role is Role.OPERATOR
    with pytest.raises(AuthError, match="unknown key id 'k1'"):
        verify_token(only_new, old_token)


@pytest.mark.parametrize("arguments, problem", [
    ({"keys_json": "{nope"}, "not JSON"),
    ({"keys_json": '{"k1": 5}'}, "key id -> key"),
    ({"keys_json": json.dumps({"k1": K1, "k2": K2})}, "active key id '' is not in MEDNET_JWT_KEYS"),
    ({"keys_json": json.dumps({"k1": "short"}), "active_kid": "k1"}, "shorter than 32"),
    ({}, "no JWT verification keys: set MEDNET_JWT_JWKS_URL .* MEDNET_JWT_KEYS"),
    ({"secret": K1}, "MEDNET_JWT_SECRET is no longer supported"),
    ({"keys_json": json.dumps({"k1": K1}), "jwks_url": "https://issuer.example.org/jwks.json"}, "both set"),
    ({"jwks_url": "http://issuer.example.org/jwks.json"}, "must be https://"),
    ({"jwks_url": "ftp://issuer.example.org/jwks.json"}, "must be https://"),
    ({"jwks_url": "https://issuer.example.org/jwks.json", "jwks_refresh_seconds": 61}, r"\(0, 60\]"),
])
def test_bad_key_configuration_is_a_specific_error(arguments, problem):
    with pytest.raises(ValueError, match=problem):
        TokenPolicy.parse(**arguments)


def test_there_is_no_default_key_and_the_refresh_defaults_to_a_minute(monkeypatch):
    for name in ("MEDNET_JWT_KEYS", "MEDNET_JWT_SECRET", "MEDNET_JWT_JWKS_URL", "MEDNET_NOTES_JWT_KEYS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="no JWT verification keys"):
        NotesSettings(encryption_key="x")
    monkeypatch.setenv("MEDNET_JWT_JWKS_URL", "https://issuer.example.org/jwks.json")
    settings = NotesSettings()
    assert settings.jwt_jwks_refresh_seconds == 60 and TokenPolicy.of(settings)._jwks.jwk_set_cache.lifespan == 60
    assert not hasattr(auth, "FALLBACK_KID")
    monkeypatch.setenv("MEDNET_JWT_JWKS_REFRESH_SECONDS", "61")
    with pytest.raises(ValueError, match="less than or equal to 60"):
        NotesSettings()


def test_a_firm_token_without_firm_id_and_an_unknown_role_are_refused():
    now = utc_now()
    base = {"iss": "mednet", "aud": "mednet-api", "iat": now, "exp": now + timedelta(minutes=1), "sub": "x"}
    with pytest.raises(AuthError, match="must carry firm_id"):
        verify_token(policy(), jwt.encode({**base, "role": "firm"}, K1, "HS256", {"kid": "k1"}))
    with pytest.raises(AuthError, match="unknown role"):
        verify_token(policy(), jwt.encode({**base, "role": "root"}, K1, "HS256", {"kid": "k1"}))


@pytest.mark.parametrize("role, lifetime, accepted", [
    ("mediator", timedelta(hours=1), True), ("mediator", timedelta(seconds=3601), False),
    ("operator", timedelta(hours=1), True), ("operator", timedelta(hours=2), False),
    ("firm", timedelta(days=30), True), ("firm", timedelta(days=30, seconds=1), False),
])
def test_the_verifier_caps_each_roles_lifetime(role, lifetime, accepted):
    now = int(utc_now().timestamp())
    claims = {"iss": "mednet", "aud": "mednet-api", "iat": now, "exp": now + int(lifetime.total_seconds()),
              "sub": "x", "role": role, "firm_id": "firm-a", "mediator_id": "med-a"}
    token = jwt.encode(claims, K1, "HS256", {"kid": "k1"})
    if accepted:
        assert verify_token(policy(), token).role == role
    else:
        with pytest.raises(AuthError, match="may live at most"):
            verify_token(policy(), token)


def test_the_issuer_never_issues_longer_than_the_cap():
    assert token_claims(Role.MEDIATOR)["exp"] - token_claims(Role.MEDIATOR)["iat"] == timedelta(hours=1)
    with pytest.raises(ValueError, match="at most 1:00:00"):
        issue_token(policy(), Role.OPERATOR, ttl=timedelta(hours=8))
    with pytest.raises(ValueError, match="at most 30 days"):
        token_claims(Role.FIRM, firm_id="f", ttl=timedelta(days=365))


def test_a_future_iat_cannot_stretch_a_lifetime():
    now = int(utc_now().timestamp())
    claims = {"iss": "mednet", "aud": "mednet-api", "iat": now + 7200, "exp": now + 7200 + 3600, "sub": "x",
              "role": "operator"}
    with pytest.raises(AuthError, match="not yet valid"):
        verify_token(policy(), jwt.encode(claims, K1, "HS256", {"kid": "k1"}))


@pytest.fixture
def jwks():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    document = {"keys": [
        {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa-1", "alg": "RS256"},
        {**jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec-1", "alg": "ES256"},
        {"kty": "oct", "k": jwt.utils.base64url_encode(K1.encode()).decode(), "kid": "oct-1", "alg": "HS256"}]}
    fetched = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            fetched.append(time.monotonic())
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield rsa_key, ec_key, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", fetched
    server.shutdown()


def staff_claims() -> dict:
    now = utc_now()
    return {"iss": "mednet", "aud": "mednet-api", "iat": now, "exp": now + timedelta(minutes=1), "sub": "m",
            "role": "mediator", "mediator_id": "med-1"}


def test_es256_and_rs256_tokens_are_verified_against_the_jwks_url_and_nothing_else(jwks):
    rsa_key, ec_key, url, fetched = jwks
    verifier = TokenPolicy.parse(jwks_url=url)
    claims = staff_claims()
    assert verify_token(verifier, jwt.encode(claims, rsa_key, "RS256", {"kid": "rsa-1"})).mediator_id == "med-1"
    assert verify_token(verifier, jwt.encode(claims, ec_key, "ES256", {"kid": "ec-1"})).mediator_id == "med-1"
    with pytest.raises(AuthError, match="unknown key id 'rsa-9'"):
        verify_token(verifier, jwt.encode(claims, rsa_key, "RS256", {"kid": "rsa-9"}))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthError, match="Signature verification failed"):
        verify_token(verifier, jwt.encode(claims, other, "RS256", {"kid": "rsa-1"}))
    with pytest.raises(AuthError, match="algorithm 'HS256' is not accepted"):
        verify_token(verifier, jwt.encode(claims, K1, "HS256", {"kid": "oct-1"}))
    with pytest.raises(AuthError, match="key 'ec-1' is for ES256, not 'RS256'"):
        verify_token(verifier, jwt.encode(claims, rsa_key, "RS256", {"kid": "ec-1"}))
    with pytest.raises(AuthError, match="algorithm 'HS256' is not accepted"):
        verify_token(verifier, jwt.encode(claims, K1, "HS256", {"kid": "k1"}))
    with pytest.raises(AuthError, match="algorithm 'RS256' is not accepted"):
        verify_token(policy(), jwt.encode(claims, rsa_key, "RS256", {"kid": "k1"}))


def test_unknown_kids_refetch_the_jwks_at_most_once_per_cooldown(jwks):
    rsa_key, _, url, fetched = jwks
    verifier = TokenPolicy.parse(jwks_url=url, jwks_refresh_seconds=60)
    for n in range(20):
        with pytest.raises(AuthError, match="unknown key id"):
            verify_token(verifier, jwt.encode(staff_claims(), rsa_key, "RS256", {"kid": f"rsa-{n + 9}"}))
    assert len(fetched) == 1


def test_a_firm_key_signs_only_its_own_firms_tokens_and_revoking_it_ends_them(tmp_path):
    issuer = Issuer(tmp_path)
    issuer.add_firm("harbor")
    verifier = TokenPolicy.parse(jwks_url=issuer.verifier().jwks_url, jwks_refresh_seconds=0.5)
    token = issuer.issue(Role.FIRM, firm_id="harbor", ttl=timedelta(days=30))
    assert jwt.get_unverified_header(token)["kid"] == "firm.harbor.2"
    assert verify_token(verifier, token).firm_id == "harbor"
    firm_jwk = issuer.state["firms"]["harbor"]
    signing_key = jwt.algorithms.ECAlgorithm.from_jwk(firm_jwk)
    now = utc_now()
    base = {"iss": "mednet", "aud": "mednet-api", "iat": now, "exp": now + timedelta(minutes=5), "sub": "x"}
    for claims in ({**base, "role": "operator"}, {**base, "role": "mediator", "mediator_id": "m"},
                   {**base, "role": "firm", "firm_id": "meridian"}):
        with pytest.raises(AuthError, match="signs only firm tokens of its own firm"):
            verify_token(verifier, jwt.encode(claims, signing_key, "ES256", {"kid": firm_jwk["kid"]}))
    staff = jwt.algorithms.ECAlgorithm.from_jwk(issuer.state["staff"])
    with pytest.raises(AuthError, match="must be signed with its firm's own key"):
        verify_token(verifier, jwt.encode({**base, "role": "firm", "firm_id": "harbor"}, staff, "ES256",
                                          {"kid": "staff.1"}))
    assert issuer.revoke_firm("harbor")
    time.sleep(0.6)
    with pytest.raises(AuthError, match="unknown key id 'firm.harbor.2'"):
        verify_token(verifier, token)
    with pytest.raises(Exception, match="no signing key"):
        issuer.issue(Role.FIRM, firm_id="harbor")


def test_the_local_issuer_keeps_private_keys_out_of_the_services_environment(tmp_path):
    from mednet_cli.fleet import local_secrets, secrets_file

    (tmp_path / "secrets.json").write_text(json.dumps({"MEDNET_JWT_KEYS": json.dumps({"k1": K1}),
                                                        "MEDNET_JWT_ACTIVE_KID": "k1", "MEDNET_NOTES_MASTER_KEY_ID": "m1"}))
    environment = local_secrets(tmp_path)
    assert set(environment) == {"MEDNET_NOTES_MASTER_KEY_ID", "MEDNET_JWT_JWKS_URL", "MEDNET_SCHEDULING_LINK_KEYS",
                                "MEDNET_SCHEDULING_LINK_ACTIVE_KID", "MEDNET_SCHEDULING_PUBLIC_URL",
                                "MEDNET_SCHEDULING_CONSOLE_URL", "MEDNET_NOTES_LINK_KEYS", "MEDNET_NOTES_LINK_ACTIVE_KID"}
    assert environment["MEDNET_JWT_JWKS_URL"] == (tmp_path / "jwks.json").resolve().as_uri()
    assert '"d"' not in (tmp_path / "jwks.json").read_text()
    assert secrets_file(tmp_path).stat().st_mode & 0o077 == 0
    token = Issuer(tmp_path).issue(Role.OPERATOR, subject="cli")
    assert verify_token(TokenPolicy.from_environment(environment), token).role is Role.OPERATOR

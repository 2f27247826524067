"""Token policy: the key set and its rotation, the single-secret fallback, RS256 through a JWKS URL."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.auth import AuthError, Role, TokenPolicy, issue_token, jwks_client, verify_token

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


def test_the_single_secret_is_the_key_set_of_one_named_default():
    single = TokenPolicy.parse(secret=K1)
    assert single.active_kid == "default"
    assert verify_token(single, issue_token(single, Role.OPERATOR)).role is Role.OPERATOR


@pytest.mark.parametrize("arguments, problem", [
    ({"keys_json": "{nope"}, "not JSON"),
    ({"keys_json": '{"k1": 5}'}, "kid -> secret"),
    ({"keys_json": json.dumps({"k1": K1, "k2": K2})}, "ACTIVE_KID '' is not in the key set"),
    ({"keys_json": json.dumps({"k1": "short"}), "active_kid": "k1"}, "at least 32"),
    ({}, "no JWT keys"),
])
def test_bad_key_configuration_is_a_specific_error(arguments, problem):
    with pytest.raises(ValueError, match=problem):
        TokenPolicy.parse(**arguments)


def test_a_firm_token_without_firm_id_and_an_unknown_role_are_refused():
    now = utc_now()
    base = {"iss": "mednet", "aud": "mednet-api", "iat": now, "exp": now + timedelta(minutes=1), "sub": "x"}
    with pytest.raises(AuthError, match="must carry firm_id"):
        verify_token(policy(), jwt.encode({**base, "role": "firm"}, K1, "HS256", {"kid": "k1"}))
    with pytest.raises(AuthError, match="unknown role"):
        verify_token(policy(), jwt.encode({**base, "role": "root"}, K1, "HS256", {"kid": "k1"}))


@pytest.fixture
def jwks():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    document = {"keys": [{**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "rsa-1",
                          "use": "sig", "alg": "RS256"}]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
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
    yield key, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    jwks_client.cache_clear()


def test_rs256_tokens_are_verified_against_the_jwks_url(jwks):
    key, url = jwks
    rs256 = TokenPolicy.parse(jwks_url=url)
    now = utc_now()
    claims = {"iss": "mednet", "aud": "mednet-api", "iat": now, "exp": now + timedelta(minutes=1), "sub": "m",
              "role": "mediator", "mediator_id": "med-1"}
    assert verify_token(rs256, jwt.encode(claims, key, "RS256", {"kid": "rsa-1"})).mediator_id == "med-1"
    with pytest.raises(AuthError, match="unknown key id 'rsa-9'"):
        verify_token(rs256, jwt.encode(claims, key, "RS256", {"kid": "rsa-9"}))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthError, match="Signature verification failed"):
        verify_token(rs256, jwt.encode(claims, other, "RS256", {"kid": "rsa-1"}))
    with pytest.raises(AuthError, match="algorithm 'HS256' is not accepted"):
        verify_token(rs256, jwt.encode(claims, K1, "HS256", {"kid": "rsa-1"}))

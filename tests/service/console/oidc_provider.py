"""A tiny, real OpenID Connect provider for the console's tests: discovery, an authorization endpoint that signs in
one configured user, a token endpoint (client secret, one-time codes, redirect URI, PKCE S256) and its JWKS; RS256
tokens from PyJWT and cryptography, served by uvicorn on a loopback port."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jwt
import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from mednet_cli.processes import free_port


@dataclass
class Provider:
    client_id: str = "mednet-console"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    user: dict = field(default_factory=lambda: {"sub": "ada@example.org", "role": "mediator",
                                                "mediator_id": "med-ada"})
    wrong_nonce: bool = False
    lifetime: int = 600
    refresh_tokens: set = field(default_factory=set)
    refreshed: int = 0
    port: int = field(default_factory=free_port)
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048), repr=False)
    codes: dict = field(default_factory=dict)
    redeemed: list = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sign(self, claims: dict) -> str:
        now = int(time.time())
        return jwt.encode({"iss": self.issuer, "iat": now, "exp": now + self.lifetime, **claims}, self.key, "RS256",
                          headers={"kid": "op-1"})

    async def discovery(self, request: Request):
        return JSONResponse({"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                             "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                             "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"]})

    async def jwks(self, request: Request):
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**public, "kid": "op-1", "alg": "RS256", "use": "sig"}]})

    async def authorize(self, request: Request):
        query = request.query_params
        if query.get("client_id") != self.client_id or query.get("response_type") != "code" \
                or query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"redirect_uri": query["redirect_uri"], "challenge": query["code_challenge"],
                            "nonce": "someone else's" if self.wrong_nonce else query.get("nonce", "")}
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}", 302)

    async def token(self, request: Request):
        form = await request.form()
        if request.headers.get("authorization") != _basic(self.client_id, self.client_secret):
            return JSONResponse({"error": "invalid_client"}, 401)
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return JSONResponse({"error": "invalid_grant"}, 400)
            self.refreshed += 1
            return JSONResponse({"token_type": "Bearer", "access_token": self.sign({"aud": "mednet-api", **self.user})})
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, 400)
        if create_s256_code_challenge(form.get("code_verifier", "")) != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verifier"}, 400)
        self.redeemed.append(form.get("code_verifier"))
        user = {key: value for key, value in self.user.items() if value}
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens.add(refresh)
        return JSONResponse({"token_type": "Bearer", "expires_in": self.lifetime, "refresh_token": refresh,
                             "id_token": self.sign({"aud": self.client_id, "sub": user["sub"],
                                                    "nonce": grant["nonce"]}),
                             "access_token": self.sign({"aud": "mednet-api", **user})})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/.well-known/openid-configuration", self.discovery),
                                 Route("/jwks", self.jwks), Route("/authorize", self.authorize),
                                 Route("/token", self.token, methods=["POST"])])

    def serve(self):
        server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the OpenID provider did not start"
            time.sleep(0.05)
        return server, thread


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

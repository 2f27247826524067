"""`mednet firms add --webhook-url` registers the firm's endpoint with notify, with the firm's own token, and
shows the signing secret once."""

from __future__ import annotations

import asyncio

import pytest

from mednet_cli import firms, fleet
from serving import serving
from services_harness import running, settings_for

pytestmark = pytest.mark.timeout(300)


async def test_firms_add_registers_the_webhook_and_shows_its_secret(secure, infrastructure, unique):
    jwks_url = fleet.local_secrets(secure.stack.data_dir)["MEDNET_JWT_JWKS_URL"]
    settings = settings_for("notify", infrastructure, unique, jwt_jwks_url=jwks_url, webhook_allow_loopback_http=True)
    firm_id = f"delta-{unique[:8]}"
    async with running("notify", settings) as notify, serving(notify) as notify_url:
        access = await asyncio.to_thread(firms.add, secure.stack, firm_id, 7, "http://127.0.0.1:9/hook", notify_url)
        store = notify.state.notifier.store
        stored = await store.endpoints.find_one({"_id": access.webhook["endpoint_id"]})
    assert stored["firm_id"] == firm_id and stored["url"] == "http://127.0.0.1:9/hook"
    assert access.webhook["secret"].startswith("whsec_") and "secret" not in stored
    assert store.signing_secret(stored) == access.webhook["secret"]
    assert access.settings()["webhook signing secret"] == access.webhook["secret"]
    assert firms.registry(secure.stack.data_dir)[firm_id]["webhook_url"] == "http://127.0.0.1:9/hook"
    with pytest.raises(Exception, match="did not answer"):
        await asyncio.to_thread(firms.add, secure.stack, f"{firm_id}-x", 7, "http://127.0.0.1:9/hook",
                                "http://127.0.0.1:9")

"""notify keeps each webhook signing secret sealed in MongoDB and still signs with it."""

from __future__ import annotations

import json

import pytest
from standardwebhooks import Webhook

from mednet_shared.platform.auth import Role
from mednet_shared.platform.sealed import SealedSecretError, SecretBox
from receivers import WebhookReceiver
from services_harness import TEST_SECRET_KEYS, client, running, settings_for


async def test_a_webhook_secret_is_sealed_at_rest_and_opens_only_for_its_endpoint(infrastructure, unique):
    settings = settings_for("notify", infrastructure, unique, webhook_allow_loopback_http=True)
    async with running("notify", settings) as notify:
        store = notify.state.notifier.store
        async with client(notify, Role.FIRM, firm_id=f"firm-{unique}") as firm:
            first = (await firm.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/a"})).json()
            second = (await firm.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/b"})).json()
            listed = (await firm.get("/v1/webhooks")).text
        stored = await store.endpoints.find_one({"_id": first["endpoint_id"]})
        assert "secret" not in stored and first["secret"].encode() not in repr(stored).encode()
        assert first["secret"] not in listed
        assert store.signing_secret(stored) == first["secret"]
        other = await store.endpoints.find_one({"_id": second["endpoint_id"]})
        with pytest.raises(SealedSecretError, match="altered or another's"):
            store.signing_secret({**stored, "secret_sealed": other["secret_sealed"]})


def test_a_secret_box_refuses_tampering_unknown_keys_and_bad_configuration():
    box = SecretBox.parse(TEST_SECRET_KEYS)
    sealed = box.seal("whsec_abc", "webhook:ep-1")
    assert box.open(sealed, "webhook:ep-1") == "whsec_abc"
    altered = bytearray(sealed["ciphertext"])
    altered[0] ^= 1
    with pytest.raises(SealedSecretError):
        box.open({**sealed, "ciphertext": bytes(altered)}, "webhook:ep-1")
    with pytest.raises(SealedSecretError, match="unknown key 's9'"):
        box.open({**sealed, "key_id": "s9"}, "webhook:ep-1")
    assert SecretBox.parse("") is None
    with pytest.raises(ValueError, match="JSON"):
        SecretBox.parse("{nope")
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox.parse(json.dumps({"s1": "c2hvcnQ="}))


async def test_a_sealed_secret_still_signs_deliveries(infrastructure, unique):
    with WebhookReceiver() as hooks:
        settings = settings_for("notify", infrastructure, unique, webhook_allow_loopback_http=True)
        async with running("notify", settings) as notify:
            store = notify.state.notifier.store
            endpoint = await store.register_endpoint(f"firm-{unique}", f"{hooks.url}/ok/x")
            sender = notify.state.notifier.dispatcher.webhooks
            stored = await store.endpoint(endpoint["_id"])
            await sender.send(stored, store.signing_secret(stored), "msg-1", '{"hello": 1}')
        delivery = hooks.to("/ok/")[0]
        Webhook(endpoint["secret"]).verify(delivery.body, dict(delivery.headers))

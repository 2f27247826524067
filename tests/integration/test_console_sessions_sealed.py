"""The console's sessions on the real MongoDB-wire server: the stored document holds neither the session id nor the
user's tokens, so reading the database gives nothing to call the services with; a wrong or altered record opens no
session."""

from __future__ import annotations

from datetime import timedelta

from bson import Binary

from mednet_console.sessions import MongoSessionStore, new_session
from mednet_shared.contracts.values import utc_now

TOKEN, REFRESH = "eyJhbGciOiJSUzI1NiJ9.the-mediators-own-access-token", "the-refresh-token-of-the-idp"


async def test_a_stored_session_holds_no_token_and_opens_only_with_its_id(mongo, unique):
    store = MongoSessionStore(mongo[f"t_{unique}_console"])
    await store.ensure_indexes()
    session = new_session("mediator", "med-ada", TOKEN, utc_now() + timedelta(hours=1), 8, mediator_id="med-ada",
                          refresh_token=REFRESH)
    session_id = await store.create(session)

    [raw] = await store.sessions.find({}).to_list()
    assert not any(secret in repr(raw) for secret in (TOKEN, REFRESH, session.csrf, session_id)), raw
    opened = await store.get(session_id)
    assert (opened.token, opened.refresh_token, opened.csrf, opened.mediator_id) == (TOKEN, REFRESH, session.csrf,
                                                                                    "med-ada")
    assert await store.get(session_id[:-1] + ("A" if session_id[-1] != "A" else "B")) is None

    altered = bytearray(raw["sealed"])
    altered[-1] ^= 1
    await store.sessions.update_one({"_id": raw["_id"]}, {"$set": {"sealed": Binary(bytes(altered))}})
    assert await store.get(session_id) is None, "an altered record opens no session"
    await mongo.drop_database(f"t_{unique}_console")

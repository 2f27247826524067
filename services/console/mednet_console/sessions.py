"""Sign-in sessions, the console's only state: a random id in an httpOnly cookie, stored only as its hash; a CSRF
token per session; the signed-in user's own token, with which the services are called. The tokens are stored
sealed (AES-256-GCM) under a key derived from the session id, which only the browser holds: whoever reads the
database gets neither a session nor a token to call the services with."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from mednet_shared.contracts.values import utc_now

SESSIONS, USED_LINKS, PENDING = "sessions", "used_links", "pending_logins"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    role: str
    subject: str
    token: str = field(repr=False)
    token_expires: datetime
    expires: datetime
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    mediator_id: str | None = None
    refresh_token: str = field(default="", repr=False)
    name: str = ""

    def live(self, now: datetime) -> bool:
        return now < self.expires and now < self.token_expires

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), given.encode())


class SessionStore(Protocol):
    async def ensure_indexes(self) -> None: ...
    async def create(self, session: Session) -> str: ...
    async def get(self, session_id: str) -> Session | None: ...
    async def replace(self, session_id: str, session: Session) -> None: ...
    async def delete(self, session_id: str) -> None: ...
    async def use_link(self, jti: str, expires: datetime) -> bool: ...
    async def hold_pending(self, state: str, values: dict, expires: datetime) -> None: ...
    async def take_pending(self, state: str) -> dict | None: ...


SEALED_FIELDS = ("token", "refresh_token", "csrf")


def _box(session_id: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mednet-console-session").derive(
        session_id.encode())
    return AESGCM(key)


def _record(session_id: str, session: Session) -> dict:
    """The stored session: its secrets sealed under the session id's key, bound to the stored id."""
    record = {key: getattr(session, key) for key in Session.__dataclass_fields__ if key not in SEALED_FIELDS}
    nonce = secrets.token_bytes(12)
    secret = json.dumps({key: getattr(session, key) for key in SEALED_FIELDS}).encode()
    record["sealed"] = nonce + _box(session_id).encrypt(nonce, secret, digest(session_id).encode())
    return record


def _session(session_id: str, record: dict) -> Session | None:
    sealed = bytes(record.pop("sealed", b""))
    try:
        secret = json.loads(_box(session_id).decrypt(sealed[:12], sealed[12:], digest(session_id).encode()))
    except (InvalidTag, ValueError):
        return None
    return Session(**{key: value for key, value in record.items() if key in Session.__dataclass_fields__}, **secret)


class MongoSessionStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.sessions, self.links, self.pending = db[SESSIONS], db[USED_LINKS], db[PENDING]

    async def ensure_indexes(self) -> None:
        for collection in (self.sessions, self.links, self.pending):
            await collection.create_index("expires", expireAfterSeconds=0)

    async def create(self, session: Session) -> str:
        session_id = secrets.token_urlsafe(32)
        await self.sessions.insert_one({"_id": digest(session_id), **_record(session_id, session)})
        return session_id

    async def get(self, session_id: str) -> Session | None:
        found = await self.sessions.find_one({"_id": digest(session_id)})
        if found is None:
            return None
        found.pop("_id")
        session = _session(session_id, found)
        if session is None or not session.live(utc_now()):
            await self.delete(session_id)
            return None
        return session

    async def replace(self, session_id: str, session: Session) -> None:
        await self.sessions.replace_one({"_id": digest(session_id)}, _record(session_id, session))

    async def delete(self, session_id: str) -> None:
        await self.sessions.delete_one({"_id": digest(session_id)})

    async def use_link(self, jti: str, expires: datetime) -> bool:
        """True the first time a link's jti is used; False ever after (a unique _id)."""
        try:
            await self.links.insert_one({"_id": digest(jti), "used": utc_now(), "expires": expires})
        except DuplicateKeyError:
            return False
        return True

    async def hold_pending(self, state: str, values: dict, expires: datetime) -> None:
        await self.pending.insert_one({"_id": digest(state), **values, "expires": expires})

    async def take_pending(self, state: str) -> dict | None:
        found = await self.pending.find_one_and_delete({"_id": digest(state)})
        if found is None or found["expires"] <= utc_now():
            return None
        return found


class MemorySessionStore:
    """The same store in memory (unit and service tests)."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.links: set[str] = set()
        self.pending: dict[str, dict] = {}

    async def ensure_indexes(self) -> None:
        pass

    async def create(self, session: Session) -> str:
        session_id = secrets.token_urlsafe(32)
        self.sessions[digest(session_id)] = session
        return session_id

    async def get(self, session_id: str) -> Session | None:
        session = self.sessions.get(digest(session_id))
        return session if session and session.live(utc_now()) else None

    async def replace(self, session_id: str, session: Session) -> None:
        self.sessions[digest(session_id)] = session

    async def delete(self, session_id: str) -> None:
        self.sessions.pop(digest(session_id), None)

    async def use_link(self, jti: str, expires: datetime) -> bool:
        if digest(jti) in self.links:
            return False
        self.links.add(digest(jti))
        return True

    async def hold_pending(self, state: str, values: dict, expires: datetime) -> None:
        self.pending[digest(state)] = {**values, "expires": expires}

    async def take_pending(self, state: str) -> dict | None:
        found = self.pending.pop(digest(state), None)
        return found if found and found["expires"] > utc_now() else None


def new_session(role: str, subject: str, token: str, token_expires: datetime, hours: float, **more) -> Session:
    return Session(role=role, subject=subject, token=token, token_expires=token_expires,
                   expires=utc_now() + timedelta(hours=hours), **more)


__all__ = ["Session", "SessionStore", "MongoSessionStore", "MemorySessionStore", "new_session", "replace", "digest"]

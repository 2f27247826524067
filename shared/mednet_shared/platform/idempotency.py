"""Idempotent consumers: an effect keyed by event id happens once, guarded by a unique key.

The key (`<consumer>:<event id>`) is claimed with an insert under the unique `_id` index before the
effect, and marked done after it. A redelivered event finds it done and is skipped. A claim whose
holder died expires after its lease and can be taken over; the effects themselves use
deterministic ids, so a takeover after a crash between effect and completion repeats nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from ..contracts.values import utc_now


class ClaimHeldElsewhere(RuntimeError):
    """Another instance is processing the same event right now: retry later (a transient condition), at the
    earliest when the holder's lease ends (`retry_after`, seconds)."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IdempotencyGuard:
    def __init__(self, collection: AsyncCollection, consumer: str, lease_seconds: float = 15.0) -> None:
        self.collection = collection
        self.consumer = consumer
        self.lease = timedelta(seconds=lease_seconds)

    def key(self, event_id: str) -> str:
        return f"{self.consumer}:{event_id}"

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("done_at")

    async def is_done(self, event_id: str) -> bool:
        document = await self.collection.find_one({"_id": self.key(event_id)}, {"status": 1})
        return bool(document and document.get("status") == "done")

    async def claim(self, event_id: str) -> bool:
        """True if this caller now holds the event; False if its effect already happened."""
        key, now = self.key(event_id), utc_now()
        try:
            await self.collection.insert_one({"_id": key, "status": "processing", "lease_until": now + self.lease})
            return True
        except DuplicateKeyError:
            pass
        current = await self.collection.find_one({"_id": key})
        if current is None:
            return await self.claim(event_id)
        if current["status"] == "done":
            return False
        if current["lease_until"] > now:
            raise ClaimHeldElsewhere(f"event {event_id} is being processed by another instance",
                                     retry_after=(current["lease_until"] - now).total_seconds())
        taken = await self.collection.update_one(
            {"_id": key, "status": "processing", "lease_until": current["lease_until"]},
            {"$set": {"lease_until": now + self.lease}},
        )
        if taken.modified_count == 1:
            return True
        raise ClaimHeldElsewhere(f"event {event_id} was taken over by another instance")

    async def complete(self, event_id: str) -> None:
        await self.collection.update_one(
            {"_id": self.key(event_id)}, {"$set": {"status": "done", "done_at": utc_now()}, "$unset": {"lease_until": ""}}
        )

    async def release(self, event_id: str) -> None:
        await self.collection.delete_one({"_id": self.key(event_id), "status": "processing"})

    @asynccontextmanager
    async def once(self, event_id: str) -> AsyncIterator[bool]:
        """`async with guard.once(id) as first:` runs the effect only if first; completes it on success."""
        first = await self.claim(event_id)
        if not first:
            yield False
            return
        try:
            yield True
        except BaseException:
            await self.release(event_id)
            raise
        await self.complete(event_id)

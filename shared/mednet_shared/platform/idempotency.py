"""Idempotent consumers: an effect keyed by event happens once, guarded by a unique key.

The key (`<consumer>:<event key>`) is claimed with an insert under the unique `_id` index before the
effect, and marked done after it. A redelivered event finds it done and is skipped. A claim whose
holder died expires after its lease and can be taken over; the effects themselves use
deterministic ids, so a takeover after a crash between effect and completion repeats nothing.

The consumer's event key names the sender: `<topic>|<source>|<id>` (`CloudEvent.sender_key`), so the same
CloudEvent id from two firms (two inbound topics) is two events. Keys used to be `<consumer>:<id>`; documents
written since carry `"v": 2`. An event done under its old key within `OLD_KEYS_HONOURED` before this process
started counts as done (`adopt_old_keys`), so a record whose offset was not committed before the upgrade is not
handled a second time; old keys stop mattering once the records from before the upgrade are committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ..contracts.values import utc_now
from .mongo import as_stored

DUPLICATE_KEY = 11000
KEY_FORM = 2
OLD_KEYS_HONOURED = timedelta(days=7)


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
        self.old_keys_since: datetime | None = None  # set when old-form keys done since then remain

    def key(self, event_id: str) -> str:
        return f"{self.consumer}:{event_id}"

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("done_at")
        await self.find_old_keys()

    async def find_old_keys(self) -> None:
        since = as_stored(utc_now() - OLD_KEYS_HONOURED)
        old = await self.collection.find_one({"v": {"$exists": False}, "status": "done", "done_at": {"$gte": since}},
                                             {"_id": 1})
        self.old_keys_since = since if old else None

    async def adopt_old_keys(self, event_keys: Iterable[str]) -> None:
        """Mark done, in one write, the sender keys whose event was done under the old key `<consumer>:<id>`."""
        if self.old_keys_since is None:
            return
        old = {self.key(event_key.split("|", 2)[2]): event_key for event_key in event_keys
               if event_key.count("|") >= 2}
        if not old:
            return
        done = await self.collection.find({"_id": {"$in": list(old)}, "status": "done",
                                           "done_at": {"$gte": self.old_keys_since}}, {"_id": 1}).to_list()
        if not done:
            return
        try:
            await self.collection.insert_many([{"_id": self.key(old[document["_id"]]), "status": "done",
                                                "done_at": utc_now(), "v": KEY_FORM} for document in done],
                                              ordered=False)
        except BulkWriteError as error:  # a key written meanwhile stays as it is
            if any(failure["code"] != DUPLICATE_KEY for failure in error.details["writeErrors"]):
                raise

    async def is_done(self, event_id: str) -> bool:
        document = await self.collection.find_one({"_id": self.key(event_id)}, {"status": 1})
        return bool(document and document.get("status") == "done")

    async def claim(self, event_id: str) -> bool:
        """True if this caller now holds the event; False if its effect already happened."""
        key, now = self.key(event_id), utc_now()
        try:
            await self.collection.insert_one({"_id": key, "status": "processing", "lease_until": now + self.lease,
                                              "v": KEY_FORM})
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

    async def claim_all(self, event_ids: Iterable[str]) -> dict[str, datetime]:
        """Claim in one write every event nobody has claimed yet; returns those now held, with their lease's end.
        The others (done, or held, or left by a dead holder) go through claim() one by one."""
        until = as_stored(utc_now() + self.lease)
        keys = {self.key(event_id): event_id for event_id in event_ids}
        if not keys:
            return {}
        try:
            await self.collection.insert_many([{"_id": key, "status": "processing", "lease_until": until,
                                                "v": KEY_FORM} for key in keys], ordered=False)
            return {event_id: until for event_id in keys.values()}
        except BulkWriteError as error:
            failures = error.details["writeErrors"]
            if any(failure["code"] != DUPLICATE_KEY for failure in failures):
                raise
            taken = {failure["index"] for failure in failures}
            return {event_id: until for n, event_id in enumerate(keys.values()) if n not in taken}

    async def hold(self, event_id: str, lease_until: datetime | None) -> bool:
        """claim(), unless claim_all() already got the event with enough of its lease left (else it is renewed)."""
        if lease_until is None:
            return await self.claim(event_id)
        now = utc_now()
        if now < lease_until - self.lease / 2:
            return True
        renewed = await self.collection.update_one(
            {"_id": self.key(event_id), "status": "processing", "lease_until": lease_until},
            {"$set": {"lease_until": now + self.lease}})
        return True if renewed.modified_count == 1 else await self.claim(event_id)

    async def complete_all(self, event_ids: list[str]) -> None:
        """Mark these events done in one write."""
        if event_ids:
            await self.collection.update_many(
                {"_id": {"$in": [self.key(event_id) for event_id in event_ids]}},
                {"$set": {"status": "done", "done_at": utc_now()}, "$unset": {"lease_until": ""}})

    async def release_all(self, event_ids: list[str]) -> None:
        """Give up claims that will not be used now (their records are delivered again)."""
        if event_ids:
            await self.collection.delete_many(
                {"_id": {"$in": [self.key(event_id) for event_id in event_ids]}, "status": "processing"})

    async def complete(self, event_id: str) -> None:
        await self.collection.update_one(
            {"_id": self.key(event_id)}, {"$set": {"status": "done", "done_at": utc_now()}, "$unset": {"lease_until": ""}}
        )

    async def release(self, event_id: str) -> None:
        await self.collection.delete_one({"_id": self.key(event_id), "status": "processing"})

    @asynccontextmanager
    async def once(self, event_id: str, lease_until: datetime | None = None,
                   completed: list[str] | None = None) -> AsyncIterator[bool]:
        """`async with guard.once(id) as first:` runs the effect only if first; completes it on success (or, given
        `completed`, adds it there for complete_all). lease_until: the event was claimed by claim_all()."""
        first = await self.hold(event_id, lease_until)
        if not first:
            yield False
            return
        try:
            yield True
        except BaseException:
            await self.release(event_id)
            raise
        if completed is None:
            await self.complete(event_id)
        else:
            completed.append(event_id)

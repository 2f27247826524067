"""Notify's collections.

jobs: every alert to send, one document per (event, channel, recipient) — its _id makes it exactly once,
whatever redelivery happens. Reminders are jobs due later; they survive restarts and are dropped when the
call moves or is cancelled. A job's outcome and its NotificationSent/Failed event are one write; the outcomes
of jobs finished at the same time go in one bulk write.
streams: one document per event carrying its projection for each firm's outbound topic.
calls, cases: what notify remembers of earlier events (attendees, firms, mediator).
endpoints: firms' webhook endpoints; preferences: per-recipient channel choices.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform import outbox
from mednet_shared.platform.mongo import GroupWriter
from mednet_shared.platform.outbox import OutboxRelay
from mednet_shared.platform.sealed import SecretBox

DUPLICATE_KEY = 11000
JOBS, STREAMS, CALLS, CASES, ENDPOINTS, PREFERENCES = "jobs", "streams", "calls", "cases", "endpoints", "preferences"


class TooManyEndpoints(Exception):
    pass


class NotifyStore:
    def __init__(self, db: AsyncDatabase, relay: OutboxRelay, secret_box: SecretBox | None = None,
                 max_endpoints_per_firm: int = 5) -> None:
        self.secret_box = secret_box
        self.max_endpoints_per_firm = max_endpoints_per_firm
        self.jobs = db[JOBS]
        self.streams = db[STREAMS]
        self.calls = db[CALLS]
        self.cases = db[CASES]
        self.endpoints = db[ENDPOINTS]
        self.preferences = db[PREFERENCES]
        self.relay = relay
        self.finishing = GroupWriter(self.jobs)

    async def ensure_indexes(self) -> None:
        await self.jobs.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
        await self.jobs.create_index("call_id")
        await self.endpoints.create_index("firm_id")

    # -- memory of earlier events ------------------------------------------------------------------

    async def remember(self, collection: str, key: str, facts: dict[str, Any]) -> None:
        await getattr(self, collection).update_one({"_id": key}, {"$set": facts}, upsert=True)

    async def recall(self, collection: str, key: str) -> dict[str, Any] | None:
        return await getattr(self, collection).find_one({"_id": key})

    # -- jobs --------------------------------------------------------------------------------------

    async def add_jobs(self, jobs: Sequence[dict[str, Any]], claimed_until: datetime | None = None,
                       now: datetime | None = None) -> list[dict[str, Any]]:
        """One write for all of an event's jobs; a job that already exists (a redelivery) is left as it is. Jobs
        due by `now` are written claimed until `claimed_until`, for the writer to send. Returns those written."""
        if not jobs:
            return []
        created = utc_now()
        documents = [{"status": "pending", "attempt_count": 0, "attempts": [], "created_at": created, **job}
                     for job in jobs]
        if claimed_until is not None:
            for document in documents:
                if document["due_at"] <= (now or created):
                    document.update(status="sending", lease_until=claimed_until)
        try:
            await self.jobs.insert_many(documents, ordered=False)
            return documents
        except BulkWriteError as error:
            if any(failure["code"] != DUPLICATE_KEY for failure in error.details["writeErrors"]):
                raise
            existing = {failure["index"] for failure in error.details["writeErrors"]}
            return [document for n, document in enumerate(documents) if n not in existing]

    async def drop_reminders(self, call_id: str, below_sequence: int) -> int:
        result = await self.jobs.update_many(
            {"call_id": call_id, "purpose": "reminder", "status": "pending", "sequence": {"$lt": below_sequence}},
            {"$set": {"status": "dropped", "dropped_at": utc_now()}},
        )
        return result.modified_count

    async def release_expired_claims(self, now: datetime) -> int:
        """Jobs whose sender died while sending go back to pending."""
        result = await self.jobs.update_many({"status": "sending", "lease_until": {"$lt": now}},
                                             {"$set": {"status": "pending"}})
        return result.modified_count

    async def due_jobs(self, now: datetime, limit: int = 100, channel: str | None = None,
                       skip: Collection[str] = ()) -> list[dict[str, Any]]:
        """The id, channel and firm of the pending jobs due by now (of one channel, leaving out the ids in skip),
        the longest due first."""
        query: dict[str, Any] = {"status": "pending", "due_at": {"$lte": now}}
        if channel is not None:
            query["channel"] = channel
        if skip:
            query["_id"] = {"$nin": list(skip)}
        cursor = self.jobs.find(query, {"channel": 1, "firm_id": 1}).sort("due_at", ASCENDING).limit(limit)
        return await cursor.to_list()

    async def claim(self, job_id: str, lease: timedelta, now: datetime | None = None) -> dict[str, Any] | None:
        """The job, now ours to send for the lease, if it is pending and due."""
        return await self.jobs.find_one_and_update(
            {"_id": job_id, "status": "pending", "due_at": {"$lte": now or utc_now()}},
            {"$set": {"status": "sending", "lease_until": utc_now() + lease}},
            return_document=ReturnDocument.AFTER,
        )

    async def renew(self, job_id: str, lease_until: datetime, new_lease_until: datetime) -> dict[str, Any] | None:
        """The job with a longer lease, if the claim that ends at lease_until is still the one it carries."""
        return await self.jobs.find_one_and_update(
            {"_id": job_id, "status": "sending", "lease_until": lease_until},
            {"$set": {"lease_until": new_lease_until}}, return_document=ReturnDocument.AFTER)

    async def unclaim(self, leases: dict[str, datetime]) -> None:
        """Claims this instance made and will not use: pending again, for whoever polls first."""
        if leases:
            await self.jobs.bulk_write([UpdateOne({"_id": job_id, "status": "sending", "lease_until": until},
                                                  {"$set": {"status": "pending"}, "$unset": {"lease_until": ""}})
                                        for job_id, until in leases.items()], ordered=False)

    async def finish(self, job_id: str, status: str, attempt: dict[str, Any], due_at: datetime | None,
                     events: Sequence[CloudEvent]) -> None:
        update = {"$set": {"status": status, "finished_at": utc_now()} if status != "pending"
                  else {"status": status, "due_at": due_at},
                  "$inc": {"attempt_count": 1}, "$push": {"attempts": attempt}, "$unset": {"lease_until": ""}}
        pending = outbox.entries([(Topics.NOTIFY, event) for event in events])
        await self.finishing.update(UpdateOne({"_id": job_id}, outbox.with_entries(update, pending)))
        if pending:
            self.relay.wake(JOBS, job_id, pending)

    # -- firm streams ------------------------------------------------------------------------------

    async def stream(self, stream_id: str, projected: dict[str, CloudEvent]) -> None:
        """The records of one event for each firm's outbound topic, in one document (written once)."""
        pending = outbox.entries([(Topics.firm_outbound(firm), event) for firm, event in projected.items()])
        try:
            await self.streams.insert_one({"_id": stream_id, "firm_ids": sorted(projected), "at": utc_now(),
                                           outbox.FIELD: pending})
        except DuplicateKeyError:
            return
        self.relay.wake(STREAMS, stream_id, pending)

    # -- webhook endpoints -------------------------------------------------------------------------

    async def register_endpoint(self, firm_id: str, url: str) -> dict[str, Any]:
        """The new endpoint with its secret in clear, for the firm to see once; sealed at rest when configured.
        TooManyEndpoints past the firm's cap (counted after the write, so racing registrations cannot pass it)."""
        if await self.endpoints.count_documents({"firm_id": firm_id}) >= self.max_endpoints_per_firm:
            raise TooManyEndpoints(self._too_many(firm_id))
        endpoint_id, secret = f"ep-{uuid.uuid4().hex[:16]}", "whsec_" + _base64_secret()
        stored = ({"secret_sealed": self.secret_box.seal(secret, f"webhook:{endpoint_id}")} if self.secret_box
                  else {"secret": secret})
        endpoint = {"_id": endpoint_id, "firm_id": firm_id, "url": url, "enabled": True, "consecutive_failures": 0,
                    "created_at": utc_now()}
        await self.endpoints.insert_one({**endpoint, **stored})
        if await self.endpoints.count_documents({"firm_id": firm_id}) > self.max_endpoints_per_firm:
            await self.endpoints.delete_one({"_id": endpoint_id})
            raise TooManyEndpoints(self._too_many(firm_id))
        return {**endpoint, "secret": secret}

    def _too_many(self, firm_id: str) -> str:
        return (f"firm {firm_id} already has {self.max_endpoints_per_firm} webhook endpoints, the most allowed; "
                "delete one first")

    def signing_secret(self, endpoint: dict[str, Any]) -> str:
        if "secret_sealed" not in endpoint:
            return endpoint["secret"]
        if self.secret_box is None:
            raise ValueError(f"endpoint {endpoint['_id']}'s secret is sealed but MEDNET_NOTIFY_SECRET_KEYS is not set")
        return self.secret_box.open(endpoint["secret_sealed"], f"webhook:{endpoint['_id']}")

    async def endpoints_of(self, firm_ids: str | list[str], enabled_only: bool = True) -> list[dict[str, Any]]:
        """The endpoints of one firm, or of several in one read."""
        firms = {"$in": firm_ids} if isinstance(firm_ids, list) else firm_ids
        query = {"firm_id": firms, **({"enabled": True} if enabled_only else {})}
        return await self.endpoints.find(query).to_list()

    async def endpoint(self, endpoint_id: str) -> dict[str, Any] | None:
        return await self.endpoints.find_one({"_id": endpoint_id})

    async def endpoint_outcome(self, endpoint_id: str, succeeded: bool, disable_after: int) -> None:
        if succeeded:
            await self.endpoints.update_one({"_id": endpoint_id}, {"$set": {"consecutive_failures": 0}})
            return
        endpoint = await self.endpoints.find_one_and_update(
            {"_id": endpoint_id}, {"$inc": {"consecutive_failures": 1}}, return_document=ReturnDocument.AFTER)
        if endpoint and endpoint["consecutive_failures"] >= disable_after:
            await self.endpoints.update_one({"_id": endpoint_id}, {"$set": {"enabled": False,
                                                                             "disabled_at": utc_now()}})

    async def delete_endpoint(self, firm_id: str, endpoint_id: str) -> bool:
        return (await self.endpoints.delete_one({"_id": endpoint_id, "firm_id": firm_id})).deleted_count == 1

    # -- preferences -------------------------------------------------------------------------------

    async def preferences_of(self, recipients: set[str]) -> dict[str, dict[str, Any]]:
        """Every recipient's choices in one read ({} for a recipient without any)."""
        found = {document["_id"]: document
                 async for document in self.preferences.find({"_id": {"$in": sorted(r.lower() for r in recipients)}})}
        return {recipient: found.get(recipient.lower(), {}) for recipient in recipients}

    async def preference(self, recipient: str) -> dict[str, Any]:
        return await self.preferences.find_one({"_id": recipient.lower()}) or {}

    async def set_preference(self, recipient: str, choices: dict[str, bool]) -> dict[str, Any]:
        await self.preferences.update_one({"_id": recipient.lower()}, {"$set": choices}, upsert=True)
        return await self.preference(recipient)


def _base64_secret() -> str:
    import base64

    return base64.b64encode(secrets.token_bytes(24)).decode()

"""Notify's store: the `Store` protocol its handlers, dispatcher and API use, and the MongoDB adapter that runs
(memory.py has the in-memory one, for the service tests).

jobs: every alert to send (domain.Job), one document per (event, channel, recipient) — its _id makes it exactly
once, whatever redelivery happens. Reminders are jobs due later; they survive restarts and are dropped when the
call moves or is cancelled. A job's outcome and its NotificationSent/Failed event are one write; the outcomes
of jobs finished at the same time go in one bulk write.
streams: one document per event carrying its projection for each firm's outbound topic.
calls, cases: what notify remembers of earlier events (domain.CallState, domain.CaseState; documents of the
older shape, a dump of the call's event, read as the same state).
endpoints: firms' webhook endpoints; preferences: per-recipient channel choices (domain.Preferences).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform import outbox
from mednet_shared.platform.mongo import GroupInserter, GroupReader, GroupWriter
from mednet_shared.platform.outbox import OutboxRelay
from mednet_shared.platform.sealed import SecretBox

from .domain import Attempt, CallState, CaseState, Due, Job, JobStatus, Notification, Preferences, State

JOBS, STREAMS, CALLS, CASES, ENDPOINTS, PREFERENCES = "jobs", "streams", "calls", "cases", "endpoints", "preferences"
NOTIFICATION_FIELDS = {field: 1 for field in ("channel", "purpose", "recipient", "status", "due_at", "attempt_count")}


class TooManyEndpoints(Exception):
    pass


class Store(Protocol):
    async def ensure_indexes(self) -> None: ...
    async def save_case(self, case_id: str, state: CaseState) -> None: ...
    async def case(self, case_id: str) -> CaseState | None: ...
    async def save_call(self, state: CallState) -> None: ...
    async def call(self, call_id: str) -> CallState | None: ...
    async def end_call(self, call_id: str, status: str) -> None: ...
    async def add_jobs(self, jobs: Sequence[Job]) -> list[Job]: ...
    async def drop_reminders(self, call_id: str, below_sequence: int) -> int: ...
    async def release_expired_claims(self, now: datetime) -> int: ...
    async def due_jobs(self, now: datetime, limit: int = 100, channel: str | None = None,
                       skip: Collection[str] = ()) -> list[Due]: ...
    async def claim(self, job_id: str, lease: timedelta, now: datetime | None = None) -> Job | None: ...
    async def renew(self, job_id: str, lease_until: datetime, new_lease_until: datetime) -> Job | None: ...
    async def unclaim(self, leases: dict[str, datetime]) -> None: ...
    async def finish(self, job_id: str, status: JobStatus, attempt: Attempt, due_at: datetime | None,
                     events: Sequence[CloudEvent]) -> None: ...
    async def notifications(self, case_id: str, firm_id: str | None = None) -> list[Notification]: ...
    async def stream(self, stream_id: str, projected: dict[str, CloudEvent]) -> None: ...
    async def publish(self, record_id: str, topic: str, event: CloudEvent) -> None: ...
    async def register_endpoint(self, firm_id: str, url: str) -> dict[str, Any]: ...
    def signing_secret(self, endpoint: dict[str, Any]) -> str: ...
    async def endpoints_of(self, firm_ids: str | list[str], enabled_only: bool = True) -> list[dict[str, Any]]: ...
    async def endpoint(self, endpoint_id: str) -> dict[str, Any] | None: ...
    async def endpoint_outcome(self, endpoint_id: str, succeeded: bool, disable_after: int) -> None: ...
    async def delete_endpoint(self, firm_id: str, endpoint_id: str) -> bool: ...
    async def preferences_of(self, recipients: set[str]) -> dict[str, Preferences]: ...
    async def set_preference(self, recipient: str, choices: dict[str, bool]) -> Preferences: ...


def as_document(state: State, *, only_set: bool = False) -> dict[str, Any]:
    """The state as stored: JSON types, but moments as datetimes (so they compare and sort in queries)."""
    document = state.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=only_set)
    document.update({name: value for name, value in state if isinstance(value, datetime) and name in document})
    return document


def job_document(job: Job) -> dict[str, Any]:
    return job.model_dump(by_alias=True, exclude_none=True)


class Endpoints:
    """What both adapters do alike with webhook endpoints: a new endpoint's secret, sealed when configured."""

    secret_box: SecretBox | None
    max_endpoints_per_firm: int

    def _new_endpoint(self, firm_id: str, url: str) -> tuple[dict[str, Any], str]:
        endpoint_id = f"ep-{uuid.uuid4().hex[:16]}"
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        stored = ({"secret_sealed": self.secret_box.seal(secret, f"webhook:{endpoint_id}")} if self.secret_box
                  else {"secret": secret})
        return {"_id": endpoint_id, "firm_id": firm_id, "url": url, "enabled": True, "consecutive_failures": 0,
                "created_at": utc_now(), **stored}, secret

    def _too_many(self, firm_id: str) -> TooManyEndpoints:
        return TooManyEndpoints(f"firm {firm_id} already has {self.max_endpoints_per_firm} webhook endpoints, "
                                "the most allowed; delete one first")

    def signing_secret(self, endpoint: dict[str, Any]) -> str:
        if "secret_sealed" not in endpoint:
            return endpoint["secret"]
        if self.secret_box is None:
            raise ValueError(f"endpoint {endpoint['_id']}'s secret is sealed but MEDNET_NOTIFY_SECRET_KEYS is not set")
        return self.secret_box.open(endpoint["secret_sealed"], f"webhook:{endpoint['_id']}")


def shown(endpoint: dict[str, Any], secret: str) -> dict[str, Any]:
    """The new endpoint with its secret in clear, for the firm to see once."""
    return {key: value for key, value in endpoint.items() if key != "secret_sealed"} | {"secret": secret}


class MongoStore(Endpoints):
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
        # concurrent handlers (a batch's cases, side by side) share their round trips
        self.finishing = GroupWriter(self.jobs)
        self.new_jobs, self.new_streams = GroupInserter(self.jobs), GroupInserter(self.streams)
        self.case_reads, self.call_reads = GroupReader(self.cases), GroupReader(self.calls)
        self.case_writes, self.call_writes = GroupWriter(self.cases), GroupWriter(self.calls)
        self.preference_reads = GroupReader(self.preferences)
        self.endpoint_reads = GroupReader(self.endpoints, "firm_id", {"enabled": True})

    async def ensure_indexes(self) -> None:
        await self.jobs.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
        await self.jobs.create_index("call_id")
        await self.endpoints.create_index("firm_id")

    # -- memory of earlier events ------------------------------------------------------------------

    async def save_case(self, case_id: str, state: CaseState) -> None:
        """Sets the fields the state was given (a CaseUpdated leaves CaseOpened's others as they are)."""
        await self.case_writes.update(UpdateOne({"_id": case_id}, {"$set": as_document(state, only_set=True)},
                                                upsert=True))

    async def case(self, case_id: str) -> CaseState | None:
        document = await self.case_reads.one(case_id) if case_id else None
        return None if document is None else CaseState.model_validate(document)

    async def save_call(self, state: CallState) -> None:
        await self.call_writes.update(UpdateOne({"_id": state.call_id}, {"$set": as_document(state)}, upsert=True))

    async def call(self, call_id: str) -> CallState | None:
        document = await self.call_reads.one(call_id)
        return None if document is None else CallState.model_validate(document)

    async def end_call(self, call_id: str, status: str) -> None:
        """A remembered call's new status (a call never heard of stays unknown)."""
        await self.call_writes.update(UpdateOne({"_id": call_id}, {"$set": {"status": status}}))

    # -- jobs --------------------------------------------------------------------------------------

    async def add_jobs(self, jobs: Sequence[Job]) -> list[Job]:
        """One write for all of an event's jobs; a job that already exists (a redelivery) is left as it is.
        Returns those written."""
        written = await self.new_jobs.insert([job_document(job) for job in jobs])
        return [job for job, new in zip(jobs, written) if new]

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
                       skip: Collection[str] = ()) -> list[Due]:
        """The pending jobs due by now (of one channel, leaving out the ids in skip), the longest due first."""
        query: dict[str, Any] = {"status": "pending", "due_at": {"$lte": now}}
        if channel is not None:
            query["channel"] = channel
        if skip:
            query["_id"] = {"$nin": list(skip)}
        cursor = self.jobs.find(query, {"channel": 1, "firm_id": 1}).sort("due_at", ASCENDING).limit(limit)
        return [Due(found["_id"], found["channel"], found.get("firm_id") or "") for found in await cursor.to_list()]

    async def claim(self, job_id: str, lease: timedelta, now: datetime | None = None) -> Job | None:
        """The job, now ours to send for the lease, if it is pending and due."""
        return _job(await self.jobs.find_one_and_update(
            {"_id": job_id, "status": "pending", "due_at": {"$lte": now or utc_now()}},
            {"$set": {"status": "sending", "lease_until": utc_now() + lease}},
            return_document=ReturnDocument.AFTER,
        ))

    async def renew(self, job_id: str, lease_until: datetime, new_lease_until: datetime) -> Job | None:
        """The job with a longer lease, if the claim that ends at lease_until is still the one it carries."""
        return _job(await self.jobs.find_one_and_update(
            {"_id": job_id, "status": "sending", "lease_until": lease_until},
            {"$set": {"lease_until": new_lease_until}}, return_document=ReturnDocument.AFTER))

    async def unclaim(self, leases: dict[str, datetime]) -> None:
        """Claims this instance made and will not use: pending again, for whoever polls first."""
        if leases:
            await self.jobs.bulk_write([UpdateOne({"_id": job_id, "status": "sending", "lease_until": until},
                                                  {"$set": {"status": "pending"}, "$unset": {"lease_until": ""}})
                                        for job_id, until in leases.items()], ordered=False)

    async def finish(self, job_id: str, status: JobStatus, attempt: Attempt, due_at: datetime | None,
                     events: Sequence[CloudEvent]) -> None:
        update = {"$set": {"status": status, "finished_at": utc_now()} if status != "pending"
                  else {"status": status, "due_at": due_at},
                  "$inc": {"attempt_count": 1}, "$push": {"attempts": attempt.model_dump(exclude_none=True)},
                  "$unset": {"lease_until": ""}}
        pending = outbox.entries([(Topics.NOTIFY, event) for event in events])
        await self.finishing.update(UpdateOne({"_id": job_id}, outbox.with_entries(update, pending)))
        if pending:
            self.relay.wake(JOBS, job_id, pending)

    async def notifications(self, case_id: str, firm_id: str | None = None) -> list[Notification]:
        query = {"case_id": case_id, **({"firm_id": firm_id} if firm_id is not None else {})}
        return [Notification.model_validate(found)
                for found in await self.jobs.find(query, NOTIFICATION_FIELDS).to_list()]

    # -- firm streams ------------------------------------------------------------------------------

    async def stream(self, stream_id: str, projected: dict[str, CloudEvent]) -> None:
        """The records of one event for each firm's outbound topic, in one document (written once)."""
        pending = outbox.entries([(Topics.firm_outbound(firm), event) for firm, event in projected.items()])
        if (await self.new_streams.insert([{"_id": stream_id, "firm_ids": sorted(projected), "at": utc_now(),
                                            outbox.FIELD: pending}]))[0]:
            self.relay.wake(STREAMS, stream_id, pending)

    async def publish(self, record_id: str, topic: str, event: CloudEvent) -> None:
        """One event of notify's own (an InvitationReplied) through the outbox of `streams`, written once."""
        pending = outbox.entries([(topic, event)])
        if (await self.new_streams.insert([{"_id": record_id, "firm_ids": [], "at": utc_now(),
                                            outbox.FIELD: pending}]))[0]:
            self.relay.wake(STREAMS, record_id, pending)

    # -- webhook endpoints -------------------------------------------------------------------------

    async def register_endpoint(self, firm_id: str, url: str) -> dict[str, Any]:
        """The new endpoint with its secret in clear, for the firm to see once; sealed at rest when configured.
        TooManyEndpoints past the firm's cap (counted after the write, so racing registrations cannot pass it)."""
        if await self.endpoints.count_documents({"firm_id": firm_id}) >= self.max_endpoints_per_firm:
            raise self._too_many(firm_id)
        endpoint, secret = self._new_endpoint(firm_id, url)
        await self.endpoints.insert_one(endpoint)
        if await self.endpoints.count_documents({"firm_id": firm_id}) > self.max_endpoints_per_firm:
            await self.endpoints.delete_one({"_id": endpoint["_id"]})
            raise self._too_many(firm_id)
        return shown(endpoint, secret)

    async def endpoints_of(self, firm_ids: str | list[str], enabled_only: bool = True) -> list[dict[str, Any]]:
        """The endpoints of one firm, or of several in one read."""
        if enabled_only:
            return await self.endpoint_reads.all([firm_ids] if isinstance(firm_ids, str) else firm_ids)
        firms = {"$in": firm_ids} if isinstance(firm_ids, list) else firm_ids
        return await self.endpoints.find({"firm_id": firms}).to_list()

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

    async def preferences_of(self, recipients: set[str]) -> dict[str, Preferences]:
        """Every recipient's choices in one read (the defaults for a recipient without any)."""
        found = {document["_id"]: document
                 for document in await self.preference_reads.all({recipient.lower() for recipient in recipients})}
        return {recipient: Preferences.model_validate(found.get(recipient.lower(), {})) for recipient in recipients}

    async def set_preference(self, recipient: str, choices: dict[str, bool]) -> Preferences:
        await self.preferences.update_one({"_id": recipient.lower()}, {"$set": choices}, upsert=True)
        return Preferences.model_validate(await self.preferences.find_one({"_id": recipient.lower()}) or {})


NotifyStore = MongoStore


def _job(document: dict[str, Any] | None) -> Job | None:
    return None if document is None else Job.model_validate(document)

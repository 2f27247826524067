"""The in-memory adapter of notify's Store, for the service tests: the MongoDB adapter's semantics (unique ids,
conditional claims, a job's outcome and its events in one write), the outbox entries recorded in `outbox`."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.memory import MemoryOutbox
from mednet_shared.platform.sealed import SecretBox

from .domain import Attempt, CallState, CaseState, Due, Job, JobStatus, Notification, Preferences
from .store import Endpoints, as_document, job_document, shown


class MemoryStore(Endpoints):
    def __init__(self, secret_box: SecretBox | None = None, max_endpoints_per_firm: int = 5) -> None:
        self.secret_box = secret_box
        self.max_endpoints_per_firm = max_endpoints_per_firm
        self.jobs: dict[str, dict[str, Any]] = {}
        self.cases: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.streams: dict[str, list[str]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.preferences: dict[str, dict[str, bool]] = {}
        self.outbox = MemoryOutbox()

    async def ensure_indexes(self) -> None:
        return None

    async def save_case(self, case_id: str, state: CaseState) -> None:
        self.cases.setdefault(case_id, {"_id": case_id}).update(as_document(state, only_set=True))

    async def case(self, case_id: str) -> CaseState | None:
        return CaseState.model_validate(self.cases[case_id]) if case_id in self.cases else None

    async def save_call(self, state: CallState) -> None:
        self.calls.setdefault(state.call_id, {"_id": state.call_id}).update(as_document(state))

    async def call(self, call_id: str) -> CallState | None:
        return CallState.model_validate(self.calls[call_id]) if call_id in self.calls else None

    async def end_call(self, call_id: str, status: str) -> None:
        if call_id in self.calls:
            self.calls[call_id]["status"] = status

    async def add_jobs(self, jobs: Sequence[Job]) -> list[Job]:
        written = [job for job in jobs if job.id not in self.jobs]
        self.jobs.update({job.id: job_document(job) for job in written})
        return written

    async def drop_reminders(self, call_id: str, below_sequence: int) -> int:
        dropped = [job for job in self.jobs.values() if job.get("call_id") == call_id and job["purpose"] == "reminder"
                   and job["status"] == "pending" and job.get("sequence", 0) < below_sequence]
        for job in dropped:
            job.update(status="dropped", dropped_at=utc_now())
        return len(dropped)

    async def release_expired_claims(self, now: datetime) -> int:
        expired = [job for job in self.jobs.values() if job["status"] == "sending" and job["lease_until"] < now]
        for job in expired:
            job["status"] = "pending"
        return len(expired)

    async def due_jobs(self, now: datetime, limit: int = 100, channel: str | None = None,
                       skip: Collection[str] = ()) -> list[Due]:
        due = sorted((job for job in self.jobs.values() if job["status"] == "pending" and job["due_at"] <= now
                      and channel in (None, job["channel"]) and job["_id"] not in skip), key=lambda job: job["due_at"])
        return [Due(job["_id"], job["channel"], job.get("firm_id") or "") for job in due[:limit]]

    async def claim(self, job_id: str, lease: timedelta, now: datetime | None = None) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job["status"] != "pending" or job["due_at"] > (now or utc_now()):
            return None
        job.update(status="sending", lease_until=utc_now() + lease)
        return Job.model_validate(copy.deepcopy(job))

    async def renew(self, job_id: str, lease_until: datetime, new_lease_until: datetime) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job["status"] != "sending" or job.get("lease_until") != lease_until:
            return None
        job["lease_until"] = new_lease_until
        return Job.model_validate(copy.deepcopy(job))

    async def unclaim(self, leases: dict[str, datetime]) -> None:
        for job_id, until in leases.items():
            job = self.jobs.get(job_id)
            if job is not None and job["status"] == "sending" and job.get("lease_until") == until:
                job["status"] = "pending"
                job.pop("lease_until")

    async def finish(self, job_id: str, status: JobStatus, attempt: Attempt, due_at: datetime | None,
                     events: Sequence[CloudEvent]) -> None:
        job = self.jobs[job_id]
        job.update({"status": status, "finished_at": utc_now()} if status != "pending"
                   else {"status": status, "due_at": due_at})
        job["attempt_count"] += 1
        job.setdefault("attempts", []).append(attempt.model_dump(exclude_none=True))
        job.pop("lease_until", None)
        self.outbox.add(Topics.NOTIFY, events)

    async def notifications(self, case_id: str, firm_id: str | None = None) -> list[Notification]:
        return [Notification.model_validate(job) for job in self.jobs.values()
                if job["case_id"] == case_id and (firm_id is None or job.get("firm_id") == firm_id)]

    async def stream(self, stream_id: str, projected: dict[str, CloudEvent]) -> None:
        if stream_id not in self.streams:
            self.streams[stream_id] = sorted(projected)
            for firm, event in projected.items():
                self.outbox.add(Topics.firm_outbound(firm), [event])

    async def publish(self, record_id: str, topic: str, event: CloudEvent) -> None:
        if record_id not in self.streams:
            self.streams[record_id] = []
            self.outbox.add(topic, [event])

    async def register_endpoint(self, firm_id: str, url: str) -> dict[str, Any]:
        if len(await self.endpoints_of(firm_id, enabled_only=False)) >= self.max_endpoints_per_firm:
            raise self._too_many(firm_id)
        endpoint, secret = self._new_endpoint(firm_id, url)
        self.endpoints[endpoint["_id"]] = endpoint
        return shown(endpoint, secret)

    async def endpoints_of(self, firm_ids: str | list[str], enabled_only: bool = True) -> list[dict[str, Any]]:
        firms = set(firm_ids) if isinstance(firm_ids, list) else {firm_ids}
        return [copy.deepcopy(e) for e in self.endpoints.values()
                if e["firm_id"] in firms and (e["enabled"] or not enabled_only)]

    async def endpoint(self, endpoint_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.endpoints.get(endpoint_id))

    async def endpoint_outcome(self, endpoint_id: str, succeeded: bool, disable_after: int) -> None:
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None:
            return
        endpoint["consecutive_failures"] = 0 if succeeded else endpoint["consecutive_failures"] + 1
        if endpoint["consecutive_failures"] >= disable_after:
            endpoint.update(enabled=False, disabled_at=utc_now())

    async def delete_endpoint(self, firm_id: str, endpoint_id: str) -> bool:
        if self.endpoints.get(endpoint_id, {}).get("firm_id") != firm_id:
            return False
        del self.endpoints[endpoint_id]
        return True

    async def preferences_of(self, recipients: set[str]) -> dict[str, Preferences]:
        return {r: Preferences.model_validate(self.preferences.get(r.lower(), {})) for r in recipients}

    async def set_preference(self, recipient: str, choices: dict[str, bool]) -> Preferences:
        self.preferences.setdefault(recipient.lower(), {}).update(choices)
        return Preferences.model_validate(self.preferences[recipient.lower()])

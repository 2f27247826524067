"""Operator calls to the services' HTTP APIs, with a short operator token from the local stack's issuer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from mednet_shared.platform.auth import Role

from .tokens import Issuer


def operator_headers(data_dir: Path) -> dict[str, str]:
    token = Issuer(data_dir).issue(Role.OPERATOR, subject="mednet-cli", ttl=timedelta(minutes=10))
    return {"Authorization": f"Bearer {token}"}


def purge_notes(notes_url: str, case_id: str, data_dir: Path) -> dict:
    return _post(f"{notes_url}/v1/cases/{case_id}/notes/purge", data_dir, "the purge")


def rewrap_notes_keys(notes_url: str, data_dir: Path) -> dict:
    return _post(f"{notes_url}/v1/notes/keys/rewrap", data_dir, "the rewrap")


def _post(url: str, data_dir: Path, what: str) -> dict:
    try:
        response = httpx.post(url, headers=operator_headers(data_dir), timeout=120)
    except httpx.HTTPError as error:
        raise RuntimeError(f"{url} did not answer: {error}") from None
    if response.status_code != 200:
        raise RuntimeError(f"notes refused {what} ({response.status_code}): {response.text}")
    return response.json()

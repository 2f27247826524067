"""Operator calls to the notes service's HTTP API, with a short operator token from the issuer."""

from __future__ import annotations

from datetime import timedelta

import httpx

from mednet_shared.platform.auth import Role

from .tokens import Issuer


def operator_headers(issuer: Issuer) -> dict[str, str]:
    token = issuer.issue(Role.OPERATOR, subject="mednet-cli", ttl=timedelta(minutes=10))
    return {"Authorization": f"Bearer {token}"}


def purge_notes(notes_url: str, case_id: str, issuer: Issuer) -> dict:
    return _post(f"{notes_url}/v1/cases/{case_id}/notes/purge", issuer, "the purge")


def rewrap_notes_keys(notes_url: str, issuer: Issuer) -> dict:
    return _post(f"{notes_url}/v1/notes/keys/rewrap", issuer, "the rewrap")


def _post(url: str, issuer: Issuer, what: str) -> dict:
    try:
        response = httpx.post(url, headers=operator_headers(issuer), timeout=120)
    except httpx.HTTPError as error:
        raise RuntimeError(f"{url} did not answer: {error}") from None
    if response.status_code != 200:
        raise RuntimeError(f"notes refused {what} ({response.status_code}): {response.text}")
    return response.json()

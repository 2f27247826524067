"""Operator calls to the services' HTTP APIs, with an operator token made from the configured JWT key."""

from __future__ import annotations

from pathlib import Path

import httpx

from mednet_shared.platform.auth import Role, issue_token

from .firms import token_policy


def operator_headers(data_dir: Path) -> dict[str, str]:
    token = issue_token(token_policy(data_dir), Role.OPERATOR, subject="mednet-cli")
    return {"Authorization": f"Bearer {token}"}


def purge_notes(notes_url: str, case_id: str, data_dir: Path) -> dict:
    try:
        response = httpx.post(f"{notes_url}/v1/cases/{case_id}/notes/purge", headers=operator_headers(data_dir),
                              timeout=30)
    except httpx.HTTPError as error:
        raise RuntimeError(f"notes at {notes_url} did not answer: {error}") from None
    if response.status_code != 200:
        raise RuntimeError(f"notes refused the purge ({response.status_code}): {response.text}")
    return response.json()

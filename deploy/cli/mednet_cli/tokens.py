"""The local stack's token issuer: its keys in `<data dir>/secrets.json` (section jwt_issuer), the JWKS the local
services read as `<data dir>/jwks.json` (MEDNET_JWT_JWKS_URL=file://...)."""

from __future__ import annotations

from pathlib import Path

from .ops import tokens


def secrets_file(data_dir: Path) -> Path:
    return Path(data_dir) / "secrets.json"


def jwks_file(data_dir: Path) -> Path:
    return Path(data_dir).resolve() / "jwks.json"


def jwks_url(data_dir: Path) -> str:
    return jwks_file(data_dir).as_uri()


class Issuer(tokens.Issuer):
    """The issuer whose keys and JWKS live in a local stack's data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        super().__init__(secrets_file(data_dir), jwks_file(data_dir))

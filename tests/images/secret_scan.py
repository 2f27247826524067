"""What counts as a secret inside an image: key material, env/credential files, secret-looking config variables."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

SECRET_NAMES = re.compile(r"(^\.env(\..*)?$|^id_(rsa|ecdsa|ed25519)$|\.(pem|key|p12|pfx|jks|keystore)$|"
                          r"^(secrets?|credentials)(\.(json|ya?ml|env|txt))?$|^\.(netrc|pgpass|pypirc)$)", re.IGNORECASE)
# A PEM private key with its body, or a private JWK (its "d"); parsers that only name the markers are not secrets.
KEY_MATERIAL = re.compile(rb"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{40}|"
                          rb"\"kty\"\s*:\s*\"(?:EC|RSA|OKP)\"[^}]*\"d\"\s*:\s*\"[A-Za-z0-9_-]{20}")
SECRET_VARIABLE = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|CREDENTIAL|_KEYS?$|_KID$)", re.IGNORECASE)
# Trust anchors are public: the system CA store and the CA bundles Python packages ship.
PUBLIC = ("etc/ssl/certs/", "usr/share/ca-certificates/", "/certifi/cacert.pem", "/pip/_vendor/certifi/")
SKIPPED = ("proc/", "sys/", "dev/")


def secrets_in_environment(variables: list[str]) -> list[str]:
    return [entry for entry in variables if SECRET_VARIABLE.search(entry.split("=", 1)[0])]


def debian_files(root: Path) -> dict[str, str]:
    """Path -> md5 of every file a Debian package installed (its .md5sums): shipped by Debian, hence public (GnuTLS
    carries its self-test keys, for one)."""
    shipped = {}
    for sums in (root / "var" / "lib" / "dpkg" / "info").glob("*.md5sums"):
        for line in sums.read_text(errors="replace").splitlines():
            digest, _, path = line.partition("  ")
            shipped[path.strip()] = digest
    return shipped


def secrets_in_tree(root: Path, largest: int = 4 << 20) -> list[str]:
    found, shipped = [], debian_files(root)
    for directory, folders, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        if (relative + "/").startswith(SKIPPED):
            folders.clear()
            continue
        for name in files:
            path = Path(directory, name)
            shown = os.path.relpath(path, root)
            if any(marker in "/" + shown for marker in PUBLIC) or path.is_symlink() or not path.is_file():
                continue
            if SECRET_NAMES.search(name):
                found.append(shown)
            elif path.stat().st_size <= largest and KEY_MATERIAL.search(content := path.read_bytes()) \
                    and shipped.get(shown) != hashlib.md5(content).hexdigest():
                found.append(f"{shown} (key material)")
    return found

"""Jars of the local stack, resolved from Maven Central once and cached outside the repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEPLOY_DIR = Path(os.environ.get("MEDNET_DEPLOY_DIR", Path(__file__).resolve().parents[2]))
LOCAL_DIR = DEPLOY_DIR / "local"


class StackError(RuntimeError):
    """A prerequisite of the local stack is missing or a component failed: the message says which."""


def cache_dir() -> Path:
    return Path(os.environ.get("MEDNET_CACHE_DIR", Path.home() / ".cache" / "mednet"))


def versions() -> dict:
    return tomllib.loads((LOCAL_DIR / "versions.toml").read_text())


def require_tool(name: str, purpose: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(
            f"'{name}' was not found on PATH; it is needed to {purpose}. "
            f"On Debian: apt-get install {'openjdk-17-jdk-headless' if name == 'java' else 'maven'}"
        )
    return path


@dataclass(frozen=True)
class JarSet:
    name: str
    pom: str
    properties: dict[str, str]

    @property
    def directory(self) -> Path:
        tag = "-".join(f"{k}-{v}" for k, v in sorted(self.properties.items()))
        return cache_dir() / "libs" / f"{self.name}-{tag}"

    @property
    def is_complete(self) -> bool:
        return (self.directory / ".complete").exists()

    def classpath(self) -> str:
        return f"{self.directory}/*"

    def resolve(self) -> Path:
        if self.is_complete:
            return self.directory
        mvn = require_tool("mvn", f"download the {self.name} jars from Maven Central (first start only)")
        staging = self.directory.with_name(self.directory.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn, "-B", "-q", "-f", str(LOCAL_DIR / self.pom),
            *(f"-D{k}={v}" for k, v in self.properties.items()),
            f"-Dmaven.repo.local={cache_dir() / 'm2'}",
            "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(
                f"mvn could not resolve the {self.name} jars (exit {result.returncode}):\n"
                + (result.stdout + result.stderr)[-3000:]
            )
        (staging / ".complete").write_text(" ".join(command))
        shutil.rmtree(self.directory, ignore_errors=True)
        staging.rename(self.directory)
        return self.directory


def kafka_jars() -> JarSet:
    v = versions()["kafka"]
    return JarSet("kafka", "kafka-pom.xml", {"kafka.version": v["version"], "log4j.version": v["log4j"]})


def mongo_wire_jars() -> JarSet:
    v = versions()["mongo_wire"]
    return JarSet(
        "mongo-wire", "mongo-pom.xml", {"mongo-java-server.version": v["version"], "log4j.version": v["log4j"]}
    )

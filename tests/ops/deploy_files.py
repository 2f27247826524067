"""Where the deployment files and the operations tools are; a missing tool is a failure that says how to get it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
SERVICES = ("intake", "scheduling", "notes", "notify")
INSTALL_HINT = "run `make setup` (deploy/tools/install-tools.sh installs promtool, prometheus and kustomize)"


def tool(name: str) -> str:
    cache = Path(os.environ.get("MEDNET_CACHE_DIR", Path.home() / ".cache" / "mednet")) / "bin"
    found = shutil.which(name) or shutil.which(name, path=str(cache))
    assert found, f"{name} is not installed: {INSTALL_HINT}"
    return found


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([tool(command[0]), *command[1:]], cwd=cwd, capture_output=True, text=True, timeout=120)


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def load_all_yaml(text: str) -> list[dict]:
    return [document for document in yaml.safe_load_all(text) if document]


def dockerfile(service: str) -> str:
    return (ROOT / "services" / service / "Dockerfile").read_text()


def exposed_port(service: str) -> int:
    return int(re.search(r"^EXPOSE (\d+)$", dockerfile(service), re.MULTILINE).group(1))


def exposed_metric_names() -> set[str]:
    """Every sample name the services can expose, from the metric definitions themselves."""
    import importlib

    from prometheus_client import REGISTRY

    for module in ("mednet_shared.platform.metrics", "mednet_scheduling.metrics", "mednet_notify.metrics"):
        importlib.import_module(module)
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}
    return {family.name + suffix for family in REGISTRY.collect() if family.name.startswith("mednet_")
            for suffix in suffixes.get(family.type, ("",))}


def recorded_names() -> set[str]:
    return {rule["record"] for path in (PROMETHEUS / "rules").glob("*.yml")
            for group in load_yaml(path)["groups"] for rule in group["rules"] if "record" in rule}


def metric_names_in(promql: str) -> set[str]:
    return set(re.findall(r"\bmednet[_:][A-Za-z0-9_:]*", promql))


def dockerfile_environment(service: str) -> dict[str, str]:
    """The ENV the service's image sets (its last stage's ENV instructions)."""
    import shlex

    text = dockerfile(service).replace("\\\n", " ")
    final = text.split("\nFROM ")[-1]
    return dict(word.split("=", 1) for line in final.splitlines() if line.startswith("ENV ")
                for word in shlex.split(line[4:]))


def dockerfile_user(service: str) -> tuple[int, int]:
    user = re.findall(r"^USER (\S+)$", dockerfile(service), re.MULTILINE)[-1]
    uid, _, gid = user.partition(":")
    return int(uid), int(gid or uid)


def settings_model(service: str):
    import importlib

    return importlib.import_module(f"mednet_{service}.config").Settings


def setting_names(service: str) -> set[str]:
    """Every environment variable the service's settings model reads: <env prefix><FIELD> for each field, and the
    network-wide names its defaults fall back to (found by calling each default factory on a recording environ)."""
    from unittest import mock

    model = settings_model(service)
    prefix = model.model_config["env_prefix"]
    names = {(prefix + name).upper() for name in model.model_fields}

    class Recording(dict):
        def get(self, key, default=None):
            names.add(key)
            return default

        def __getitem__(self, key):
            names.add(key)
            raise KeyError(key)

    with mock.patch("os.environ", Recording()):
        for field in model.model_fields.values():
            if field.default_factory is not None:
                try:
                    field.default_factory()
                except (KeyError, TypeError, ValueError):
                    pass
    return names


def render(overlay: str) -> dict[tuple[str, str], dict]:
    built = run("kustomize", "build", f"deploy/k8s/overlays/{overlay}")
    assert built.returncode == 0, built.stderr
    return {(document["kind"], document["metadata"]["name"]): document for document in load_all_yaml(built.stdout)}


def k8s_environment(rendered: dict, service: str) -> dict[str, str]:
    """What the service's container sees from its ConfigMaps, its secrets shown as secret:<name>/<key>."""
    (container,) = rendered["Deployment", service]["spec"]["template"]["spec"]["containers"]
    seen = {}
    for source in container["envFrom"]:
        seen.update(rendered["ConfigMap", source["configMapRef"]["name"]]["data"])
    for entry in container["env"]:
        reference = entry["valueFrom"]["secretKeyRef"]
        seen[entry["name"]] = f"secret:{reference['name']}/{reference['key']}"
    return seen

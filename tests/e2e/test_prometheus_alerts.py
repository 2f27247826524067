"""A real Prometheus, with the project's alert rules, scrapes the four services running as processes: every target
is up, every rule evaluates cleanly; a poison record on a firm's inbound topic makes the dead-letter alert fire for
intake, the topic's owner (scheduling reads the topic too and leaves such records to intake), and a stopped service
is seen down at once (its alert pending for the rule's minute)."""

import asyncio
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from kafka_helpers import new_topic, produce
from mednet_cli.fleet import SERVICES
from mednet_cli.processes import free_port
from mednet_shared.contracts.topics import Topics
from service_processes import start_service, terminate, wait_status

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"


def prometheus_config(targets: dict[str, str]) -> dict:
    """The shipped scrape job and rules, pointed at the services' actual ports, scraped and evaluated every second."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(path) for path in sorted(RULES.glob("*.yml"))],
        "scrape_configs": [{"job_name": "mednet", "honor_labels": True, "static_configs": [
            {"targets": [url.removeprefix("http://")], "labels": {"service": name}} for name, url in targets.items()]}],
    }


def api(base: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base}{path}", timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def eventually(check, timeout: float, what: str):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as error:
            last = error
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout}s; last seen: {last}")


def alerts(base: str, name: str, **labels: str) -> list[dict]:
    return [alert for alert in api(base, "/api/v1/alerts")["alerts"] if alert["labels"]["alertname"] == name
            and all(alert["labels"].get(key) == value for key, value in labels.items())]


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    assert found, "prometheus is not installed: run `make setup` (deploy/tools/install-tools.sh)"
    return found


def test_prometheus_scrapes_every_service_and_alerts_on_a_dead_letter_and_a_service_down(
        infrastructure, unique, tmp_path, prometheus_binary):
    kafka, mongodb = infrastructure.kafka_bootstrap_servers, infrastructure.mongodb_url
    firm = f"firm-prom{unique}"
    inbound = asyncio.run(new_topic(kafka, Topics.firm_inbound(firm)))
    running = {}
    prometheus = None
    try:
        for name in SERVICES:
            extra = {"inbound_topic_pattern": rf"mednet\.firm\.{firm}\.inbound$"} if name in ("intake", "scheduling") else {}
            running[name] = start_service(name, kafka, mongodb, tmp_path / f"{name}.log", **extra)
        for _, url in running.values():
            wait_status(url, 200, timeout=90)

        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config({name: url for name, (_, url) in running.items()})))
        prometheus = subprocess.Popen(
            [prometheus_binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=(tmp_path / "prometheus.log").open("wb"), stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"

        def all_up():
            targets = api(base, "/api/v1/targets")["activeTargets"]
            return len(targets) == 4 and all(t["health"] == "up" for t in targets) and targets
        targets = eventually(all_up, 60, "every service target up")
        assert {t["labels"]["service"] for t in targets} == set(SERVICES)

        def rules_evaluated():
            rules = [r for g in api(base, "/api/v1/rules")["groups"] for r in g["rules"]]
            return len(rules) == 8 and all(r["health"] == "ok" for r in rules) and rules
        rules = eventually(rules_evaluated, 30, "every rule evaluated without error")
        assert {r["name"] for r in rules if r["type"] == "alerting"} >= {"MednetDeadLetters", "MednetServiceDown"}
        assert not alerts(base, "MednetDeadLetters", topic=inbound)

        asyncio.run(produce(kafka, inbound, [(b"poison", b"{'not': json", [])]))
        def firing_for_the_owner_of_the_topic():
            fired = [a for a in alerts(base, "MednetDeadLetters", topic=inbound) if a["state"] == "firing"]
            return {a["labels"]["service"] for a in fired} == {"intake"} and fired
        fired = eventually(firing_for_the_owner_of_the_topic, 60, "MednetDeadLetters firing for intake")
        assert {(a["labels"]["reason"], a["labels"]["severity"]) for a in fired} == {("unparseable", "warning")}

        notes_process, _ = running.pop("notes")
        assert terminate(notes_process)[0] == 0
        eventually(lambda: [s for s in api(base, '/api/v1/query?query=up{service="notes"}')["result"]
                            if s["value"][1] == "0"], 30, "notes seen down")
        pending = eventually(lambda: alerts(base, "MednetServiceDown", service="notes"), 30, "MednetServiceDown")
        assert pending[0]["state"] == "pending", "for: 1m before it fires"
        assert not alerts(base, "MednetServiceDown", service="intake")
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=15)
        for process, _ in running.values():
            if process.poll() is None:
                terminate(process)

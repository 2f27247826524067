"""Each service as a real process: ready only while Kafka and MongoDB answer, Prometheus metrics, exit 0 on SIGTERM."""

import subprocess
import time

import pytest

from mednet_cli.fleet import SERVICES, probe
from mednet_cli.processes import free_port
from mednet_cli.stack import KafkaNode, MongoWire, _kafka_cluster_id
from service_processes import start_service, terminate, wait_status


def scraped(url: str, series: str, timeout: float = 15.0) -> str:
    """The service's /metrics once it shows the series (or the last scrape, for the assertion's message)."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = subprocess.run(["curl", "-s", f"{url}/metrics"], capture_output=True, text=True).stdout
        if series in metrics or time.monotonic() > deadline:
            assert series in metrics, metrics[-2000:]
            return metrics
        time.sleep(0.5)


def test_all_four_services_start_ready_expose_metrics_and_exit_0_on_sigterm(infrastructure, tmp_path):
    running = {
        name: start_service(name, infrastructure.kafka_bootstrap_servers, infrastructure.mongodb_url,
                            tmp_path / f"{name}.log")
        for name in SERVICES
    }
    try:
        for name, (process, url) in running.items():
            body = wait_status(url, 200)
            assert body == {"service": name, "ready": True, "kafka": True, "mongodb": True, "started": True}
            assert probe(f"{url}/healthz")[0] == 200
            metrics = scraped(url, f'mednet_outbox_backlog{{service="{name}"}}')   # set by the first outbox sweep
            assert f'mednet_dependency_up{{dependency="kafka",service="{name}"}} 1.0' in metrics
    finally:
        outcomes = {name: terminate(process) for name, (process, _) in running.items()}
    for name, (code, seconds) in outcomes.items():
        assert code == 0, f"{name} exited {code}: {(tmp_path / f'{name}.log').read_text()[-2000:]}"
        assert seconds < 10, f"{name} took {seconds:.1f}s to stop"


@pytest.mark.slow
def test_ready_only_while_kafka_and_mongodb_answer(infrastructure, tmp_path):
    """Own throwaway Kafka and MongoDB-wire processes, so they can be killed without hurting other tests."""
    kafka = KafkaNode(tmp_path, port=free_port(), controller_port=free_port())
    mongo = MongoWire(tmp_path, port=free_port(), in_memory=True)
    kafka.start(_kafka_cluster_id())
    mongo.start()
    kafka.wait_ready()
    mongo.wait_ready()
    process, url = start_service("intake", kafka.bootstrap, mongo.url, tmp_path / "intake.log")
    try:
        wait_status(url, 200)

        mongo.process.kill()
        assert wait_status(url, 503, timeout=15)["mongodb"] is False
        mongo.start()
        mongo.wait_ready()
        wait_status(url, 200, timeout=30)

        kafka.process.kill()
        assert wait_status(url, 503, timeout=15)["kafka"] is False
        code, seconds = terminate(process)
        assert code == 0 and seconds < 10, "stops cleanly even while Kafka is down"
    finally:
        if process.poll() is None:
            process.kill()
        kafka.process.stop()
        mongo.process.stop()


def test_a_service_started_before_its_dependencies_becomes_ready_when_they_appear(infrastructure, tmp_path):
    mongo = MongoWire(tmp_path, port=free_port(), in_memory=True)
    process, url = start_service("notes", infrastructure.kafka_bootstrap_servers, mongo.url, tmp_path / "notes.log")
    try:
        assert probe(f"{url}/healthz", timeout=5)[0] in (0, 200)
        assert wait_status(url, 503, timeout=20)["mongodb"] is False
        mongo.start()
        mongo.wait_ready()
        wait_status(url, 200, timeout=40)
    finally:
        code, _ = terminate(process)
        mongo.process.stop()
    assert code == 0

"""Each service's image from `make images`, started with buildah on the tests' Kafka and MongoDB-wire server with
environment configuration alone: ready; a case submitted on a firm's inbound topic flows through the image-run
intake, scheduling, notes and notify as through the process-run ones; SIGTERM exits 0; every image runs as its
Dockerfile's non-root user, is labelled with its version and git revision, and holds no secret."""

import asyncio
import hashlib
import importlib
import json
import re
import subprocess
import tomllib

import pytest

from images import ROOT, SERVICES, Container, config, image, inspect, mounted
from kafka_helpers import as_record, command, events_of, new_topic, produce, wait_for
from mednet_cli.fleet import probe
from mednet_cli.processes import free_port
from mednet_shared.contracts.topics import Topics
from receivers import SmtpServer
from sample_cases import submission
from secret_scan import secrets_in_environment, secrets_in_tree
from offers_helpers import choose_first
from services_harness import TEST_JWT_ENVIRONMENT, TEST_NOTES_KEY, TEST_SECRET_KEYS, link_settings, skip_history


def dockerfile_user(service: str) -> str:
    return re.findall(r"^USER (\S+)$", (ROOT / "services" / service / "Dockerfile").read_text(), re.MULTILINE)[-1]


def environment_for(service: str, infrastructure, unique: str, ports: dict[str, int], smtp_port: int) -> dict:
    prefix = f"MEDNET_{service.upper()}_"
    own = {"HTTP_PORT": str(ports[service]), "MONGODB_DATABASE": f"mednet_{service}_image_{unique}",
           "CONSUMER_GROUP_ID": f"image-{service}-{unique}", "READY_TIMEOUT_SECONDS": "1"}
    if service in ("intake", "scheduling"):
        own["INBOUND_TOPIC_PATTERN"] = rf"mednet\.firm\.[a-z0-9-]*{unique}[a-z0-9-]*\.inbound$"
    if service == "scheduling":
        own |= {key.upper(): value for key, value in link_settings(f"http://127.0.0.1:{ports[service]}").items()}
    if service == "notes":
        own |= {"MASTER_KEYS": json.dumps({"m1": TEST_NOTES_KEY}), "MASTER_KEY_ID": "m1",
                "LINK_KEYS": link_settings()["link_keys"], "LINK_ACTIVE_KID": "l1"}
    if service == "console":   # no Kafka: the other services' addresses, sign-in by one-time links
        own |= {"PUBLIC_URL": f"http://127.0.0.1:{ports[service]}", "LOGIN_LINKS": "true",
                **{f"{name.upper()}_URL": f"http://127.0.0.1:{ports[name]}"
                   for name in ("intake", "scheduling", "notes", "notify")}}
    if service == "notify":
        own |= {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "POLL_SECONDS": "0.3",
                "SECRET_KEYS": TEST_SECRET_KEYS, "SECRET_KEY_ID": "s1",
                "BRIEF_URL": f"http://127.0.0.1:{ports['notes']}/v1/cases/{{case_id}}/brief"}
    return {"KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
            "MONGODB_URL": infrastructure.mongodb_url, "MEDNET_JSON_LOGS": "true", **TEST_JWT_ENVIRONMENT,
            **{prefix + name: value for name, value in own.items()}}


def wait_ready(container: Container, url: str, timeout: float = 60) -> dict:
    async def ready():
        code, body = await asyncio.to_thread(probe, f"{url}/readyz", 2)
        assert container.buildah.poll() is None, f"{container.service} exited: {container.output()}"
        return body if code == 200 else None

    return asyncio.run(wait_for(ready, timeout=timeout, interval=0.3))


def consumed(url: str, event_type: str) -> float:
    text = subprocess.run(["curl", "-s", f"{url}/metrics"], capture_output=True, text=True).stdout
    return sum(float(m.group(1)) for m in re.finditer(
        rf'^mednet_events_consumed_total{{(?=[^}}]*{event_type})(?=[^}}]*outcome="processed")[^}}]*}} (\S+)$',
        text, re.MULTILINE))


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_is_labelled_non_root_and_serves_its_dockerfiles_port_and_healthcheck(service):
    settings = config(service)
    labels = settings["Labels"]
    version = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]["version"]
    assert labels["org.opencontainers.image.version"] == version
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", labels["org.opencontainers.image.revision"]), labels
    assert labels["org.opencontainers.image.title"] == f"mednet-{service}"
    assert settings["User"] == dockerfile_user(service) and settings["User"].split(":")[0] not in ("", "0", "root")
    port = importlib.import_module(f"mednet_{service}.config").Settings.model_fields["http_port"].default
    assert list(settings["ExposedPorts"]) == [f"{port}/tcp"]
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(settings["Healthcheck"]["Test"])
    assert settings["Cmd"] == ["python", "-m", f"mednet_{service}"]


@pytest.mark.parametrize("service", SERVICES)
def test_no_image_holds_a_secret_in_its_files_or_its_configuration(service):
    assert not secrets_in_environment(config(service)["Env"])
    with mounted(service) as root:
        found = secrets_in_tree(root)
    assert not found, f"{image(service)} holds {found}"


def test_the_images_run_the_whole_flow_on_the_real_stack_and_exit_0_on_sigterm(infrastructure, kafka, unique,
                                                                                 tmp_path):
    firm = f"firm-{unique}"
    inbound = asyncio.run(new_topic(kafka, Topics.firm_inbound(firm)))
    ports = {service: free_port() for service in SERVICES}
    for service in SERVICES:
        consumes = getattr(importlib.import_module(f"mednet_{service}.app"), "CONSUMES", [])
        if consumes:
            asyncio.run(skip_history(kafka, f"image-{service}-{unique}", consumes))
    containers: dict[str, Container] = {}
    with SmtpServer() as smtp:
        try:
            for service in SERVICES:
                environment = environment_for(service, infrastructure, unique, ports, smtp.port)
                containers[service] = Container(service, environment, tmp_path / f"{service}.log")
            for service, container in containers.items():
                url = f"http://127.0.0.1:{ports[service]}"
                body = wait_ready(container, url)
                expected = {"service": service, "ready": True, "mongodb": True}
                if service != "console":   # the console reads no Kafka: its readiness is its database's
                    expected |= {"kafka": True, "started": True}
                assert body == expected
                assert probe(f"{url}/healthz", 2)[0] == 200, "the HEALTHCHECK's path"
                process = container.process()
                assert process.uids().real == process.uids().effective == int(dockerfile_user(service).split(":")[0])

            document = submission(f"image-{unique}", parties=2, mediator_id=f"med-{unique}", represented_by=firm)
            asyncio.run(produce(kafka, inbound, [as_record(command(document))]))
            from mednet_intake.domain import case_id_for

            case_id = case_id_for(firm, document["external_ref"])
            asyncio.run(events_of(kafka, Topics.INTAKE, case_id, "CaseOpened", 1))
            for party_id in ("p1", "p2"):   # the firm represents both sides: it chooses each side's first slot
                asyncio.run(choose_first(kafka, firm, case_id, party_id))
            calls = {e.payload().call_id for e in asyncio.run(
                events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 2))}
            assert len(calls) == 2

            notes = f"http://127.0.0.1:{ports['notes']}"
            asyncio.run(wait_for(lambda: consumed(notes, "CallScheduled") >= 2, timeout=30, interval=0.5))

            def invited():
                uids = {line.split(":", 1)[1].strip() for message in smtp.mailbox.messages
                        for part in message.walk() if part.get_content_type() == "text/calendar"
                        for line in part.get_payload(decode=True).decode().splitlines() if line.startswith("UID:")}
                return calls <= uids

            asyncio.run(wait_for(invited, timeout=40, interval=0.5))
        finally:
            outcomes = {}
            for service, container in containers.items():
                try:
                    outcomes[service] = container.stop()
                except Exception as error:  # noqa: BLE001 - reported below with the log
                    outcomes[service] = (repr(error), 0.0)
                finally:
                    container.remove()
    for service, (code, seconds) in outcomes.items():
        assert code == 0, f"{service} exited {code}: {containers[service].output()}"
        assert seconds < 12, f"{service} took {seconds:.1f}s to stop"


def test_the_secret_scan_finds_planted_key_material_env_files_and_secret_variables(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / ".env").write_text("MEDNET_JWT_KEYS={}\n")
    (tmp_path / "opt").mkdir()
    (tmp_path / "opt" / "settings.json").write_text('{"keys": [{"kty": "EC", "crv": "P-256", "d": "c2VjcmV0LWtleS1tYXRlcmlhbC1vZi0zMg"}]}')
    (tmp_path / "opt" / "notes.txt").write_bytes(b"x\n-----BEGIN EC PRIVATE KEY-----\n" + b"MHcCAQEEI" * 8 + b"\n")
    (tmp_path / "etc" / "ssl" / "certs").mkdir(parents=True)
    (tmp_path / "etc" / "ssl" / "certs" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "opt" / "parser.py").write_text('MARKER = b"-----BEGIN OPENSSH PRIVATE KEY-----"\n')
    shipped = b"-----BEGIN PRIVATE KEY-----\n" + b"MGoCAQAwIQYIKoUDBwEBAQIw" * 4  # a Debian package's self-test key
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "libtls.so").write_bytes(shipped)
    (tmp_path / "var" / "lib" / "dpkg" / "info").mkdir(parents=True)
    (tmp_path / "var" / "lib" / "dpkg" / "info" / "libtls.md5sums").write_text(
        f"{hashlib.md5(shipped).hexdigest()}  usr/lib/libtls.so\n")
    assert sorted(secrets_in_tree(tmp_path)) == ["opt/notes.txt (key material)", "opt/settings.json (key material)",
                                                 "srv/.env"]
    assert secrets_in_environment(["PATH=/bin", "MEDNET_NOTES_MASTER_KEYS={}", "MEDNET_JWT_ACTIVE_KID=k1",
                                   "MEDNET_INTAKE_HTTP_PORT=8101"]) == ["MEDNET_NOTES_MASTER_KEYS={}",
                                                                        "MEDNET_JWT_ACTIVE_KID=k1"]

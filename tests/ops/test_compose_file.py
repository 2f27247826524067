"""deploy/compose.yaml is valid against the Compose Specification's JSON Schema and agrees with the Dockerfiles,
the Prometheus configuration and the Grafana provisioning; every Dockerfile is multi-stage, non-root, with a
healthcheck."""

import json
import re

import jsonschema
import pytest

from deploy_files import DEPLOY, ROOT, SERVICES, dockerfile, exposed_port, load_yaml

COMPOSE = load_yaml(DEPLOY / "compose.yaml")
SERVICE_KEYS = {"notes": ("MEDNET_NOTES_MASTER_KEYS", "MEDNET_NOTES_MASTER_KEY_ID"),
                "notify": ("MEDNET_NOTIFY_SECRET_KEYS", "MEDNET_NOTIFY_SECRET_KEY_ID")}


def test_the_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert not errors, errors


def test_the_schema_check_catches_a_mistake():
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text())
    broken = {**COMPOSE, "services": {**COMPOSE["services"], "intake": {**COMPOSE["services"]["intake"],
                                                                        "ports": "8101"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_its_plaintext_kafka_is_declared_local_only_and_points_to_the_secured_setup():
    header = (DEPLOY / "compose.yaml").read_text().split("name:", 1)[0]
    assert "PLAINTEXT" in header and "deploy/security" in header
    assert (DEPLOY / "security" / "README.md").is_file()


def test_it_runs_kafka_in_kraft_mode_a_mongodb_replica_set_prometheus_grafana_and_a_mail_catcher():
    services = COMPOSE["services"]
    assert set(services) == {*SERVICES, "console", "kafka", "mongo", "prometheus", "grafana", "mailpit"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert "--replSet" in services["mongo"]["command"]
    assert "rs.initiate" in " ".join(services["mongo"]["healthcheck"]["test"])
    assert services["notify"]["environment"]["MEDNET_NOTIFY_SMTP_HOST"] == "mailpit"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_built_from_its_own_dockerfile_and_published_on_its_port(service):
    declared = COMPOSE["services"][service]
    assert (DEPLOY / declared["build"]["context"] / declared["build"]["dockerfile"]).resolve() == \
        ROOT / "services" / service / "Dockerfile"
    port = exposed_port(service)
    assert declared["ports"] == [f"127.0.0.1:{port}:{port}"]
    environment = declared["environment"]
    assert "replicaSet=rs0" in environment["MONGODB_URL"] and environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert all(str(value).startswith("${" + key + ":?") for key, value in environment.items()
               if any(word in key for word in ("SECRET", "KEY", "KID", "PASSWORD"))), "secrets are required variables"
    assert set(SERVICE_KEYS.get(service, ())) <= set(environment)
    assert not {"MEDNET_JWT_SECRET", "MEDNET_JWT_KEYS", "MEDNET_NOTES_ENCRYPTION_KEY"} & set(environment), \
        "tokens are verified against the issuer's JWKS; no service holds a signing key"
    jwks = environment["MEDNET_JWT_JWKS_URL"].removeprefix("file://")
    assert any(volume.startswith("${MEDNET_JWKS_FILE:?") and volume.endswith(f":{jwks}:ro")
               for volume in declared["volumes"])
    assert {"kafka", "mongo"} <= set(declared["depends_on"])


@pytest.mark.parametrize("service", SERVICES)
def test_each_dockerfile_is_multi_stage_non_root_with_a_healthcheck_on_its_port(service):
    text = dockerfile(service)
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    user = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert f"127.0.0.1:{exposed_port(service)}/healthz" in text.split("HEALTHCHECK", 1)[1]
    assert f"mednet_{service}" in text and f"services/{service}" in text


def test_prometheus_and_grafana_mount_the_files_in_this_repository():
    for name in ("prometheus", "grafana"):
        for volume in COMPOSE["services"][name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_dir(), volume
    prometheus = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    targets = {t for group in prometheus["scrape_configs"][0]["static_configs"] for t in group["targets"]}
    assert targets == {f"{service}:{exposed_port(service)}" for service in SERVICES}
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "mednet.yml")["providers"][0]
    mounted = dict(reversed(v.split(":")[:2]) for v in COMPOSE["services"]["grafana"]["volumes"])
    assert mounted[provider["options"]["path"]] == "./grafana/dashboards"


def published_on_all_interfaces(compose: dict) -> list[str]:
    return [f"{name}: {port}" for name, declared in compose["services"].items() for port in declared.get("ports", [])
            if not str(port).startswith("127.0.0.1:")]


def test_every_published_port_is_bound_to_loopback_only():
    assert not published_on_all_interfaces(COMPOSE)
    assert published_on_all_interfaces({"services": {"grafana": {"ports": ["3000:3000"]}}}) == ["grafana: 3000:3000"]


def test_notify_reaches_mailpit_over_starttls_with_a_login_whose_password_comes_from_the_environment():
    notify, mailpit = COMPOSE["services"]["notify"], COMPOSE["services"]["mailpit"]
    environment = notify["environment"]
    assert environment["MEDNET_NOTIFY_SMTP_SECURITY"] == "starttls"
    assert environment["MEDNET_NOTIFY_SMTP_USERNAME"]
    assert environment["MEDNET_NOTIFY_SMTP_PASSWORD"].startswith("${MEDNET_NOTIFY_SMTP_PASSWORD:?")
    ca = environment["MEDNET_NOTIFY_SMTP_CA_FILE"]
    assert any(volume.endswith(f":{ca}:ro") for volume in notify["volumes"])
    assert mailpit["environment"]["MP_SMTP_REQUIRE_STARTTLS"] == "true"
    user, _, password = mailpit["environment"]["MP_SMTP_AUTH"].partition(":")
    assert user == environment["MEDNET_NOTIFY_SMTP_USERNAME"] and password.startswith("${MEDNET_NOTIFY_SMTP_PASSWORD:?")
    mounted = {volume.split(":")[1] for volume in mailpit["volumes"]}
    assert {mailpit["environment"]["MP_SMTP_TLS_CERT"], mailpit["environment"]["MP_SMTP_TLS_KEY"]} <= mounted

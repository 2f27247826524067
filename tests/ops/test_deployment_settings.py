"""The deployment files agree with each service's settings model and image: every variable compose or a kustomize
overlay sets is one the service reads (a renamed setting fails here), the service starts from exactly that
environment (its required settings are set; secrets stand in as test values), the port, probe paths and user id
are the image's, and every rendered manifest is valid against the Kubernetes schemas (offline, kubernetes-validate)."""

import os
import re
from unittest import mock

import kubernetes_validate
import pytest

from deploy_files import (DEPLOY, SERVICES, dockerfile, dockerfile_environment, dockerfile_user, exposed_port,
                          k8s_environment, load_yaml, render, setting_names, settings_model)
from services_harness import TEST_NOTES_KEY, TEST_SECRET_KEYS

OVERLAYS = sorted(path.name for path in (DEPLOY / "k8s" / "overlays").iterdir() if path.is_dir())
COMPOSE = load_yaml(DEPLOY / "compose.yaml")
KUBERNETES_VERSION = "1.31"
# KEDA's custom resources have no schema in kubernetes-validate; tests/ops/test_kubernetes_manifests.py checks them.
CUSTOM_KINDS = {("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication")}
# What stands in for a secret the deployment takes from the environment or a Secret, by variable.
TEST_SECRETS = {
    "MONGODB_URL": "mongodb://mongo.example.org:27017/?replicaSet=rs0",
    "MEDNET_NOTES_MASTER_KEYS": '{"m1": "%s"}' % TEST_NOTES_KEY, "MEDNET_NOTES_MASTER_KEY_ID": "m1",
    "MEDNET_NOTIFY_SECRET_KEYS": TEST_SECRET_KEYS, "MEDNET_NOTIFY_SECRET_KEY_ID": "s1",
}


def unknown_names(service: str, environment: dict) -> set[str]:
    return set(environment) - setting_names(service)


def compose_environment(service: str) -> dict[str, str]:
    """The compose service's environment, each ${VAR:?...} replaced by the stand-in for VAR."""
    def value(name, text):
        variable = re.fullmatch(r"\$\{([A-Z0-9_]+):\?[^}]*\}", str(text))
        return TEST_SECRETS.get(variable.group(1), "test-value") if variable else str(text)

    return {name: value(name, text) for name, text in COMPOSE["services"][service]["environment"].items()}


def stand_ins(environment: dict[str, str]) -> dict[str, str]:
    return {name: TEST_SECRETS.get(name, "test-value") if str(value).startswith("secret:") else value
            for name, value in environment.items()}


def load(service: str, environment: dict[str, str]):
    """The service's settings from this environment alone, with its image's ENV under it."""
    with mock.patch.dict(os.environ, {**dockerfile_environment(service), **environment}, clear=True):
        return settings_model(service)()


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request):
    return render(request.param)


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_compose_sets_is_a_setting_and_the_service_starts_from_them(service):
    environment = compose_environment(service)
    assert not unknown_names(service, environment), f"compose sets what {service} never reads"
    settings = load(service, environment)
    assert settings.kafka_bootstrap_servers == "kafka:9092" and settings.http_port == exposed_port(service)


def test_every_variable_an_overlay_sets_is_a_setting_and_the_service_starts_from_them(rendered):
    for service in SERVICES:
        environment = k8s_environment(rendered, service)
        assert not unknown_names(service, environment), f"{service}'s manifests set what it never reads"
        settings = load(service, stand_ins(environment))
        assert settings.kafka_security_protocol == "SASL_SSL" and settings.http_port == exposed_port(service)


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_sets_only_settings_and_its_port_is_the_settings_default_and_exposed(service):
    image_settings = {name: value for name, value in dockerfile_environment(service).items()
                      if name.startswith("MEDNET_")}
    assert not unknown_names(service, image_settings)
    port = settings_model(service).model_fields["http_port"].default
    assert image_settings[f"MEDNET_{service.upper()}_HTTP_PORT"] == str(port) == str(exposed_port(service))
    assert f"http://127.0.0.1:{port}/healthz" in dockerfile(service).split("HEALTHCHECK", 1)[1]


def test_a_renamed_or_misspelled_setting_is_caught():
    environment = {**compose_environment("notify"), "MEDNET_NOTIFY_SMTP_HOSTNAME": "mailpit"}
    assert unknown_names("notify", environment) == {"MEDNET_NOTIFY_SMTP_HOSTNAME"}
    assert unknown_names("intake", {"MEDNET_NOTES_MASTER_KEYS": "x"}) == {"MEDNET_NOTES_MASTER_KEYS"}
    with pytest.raises(ValueError):
        load("intake", {k: v for k, v in compose_environment("intake").items() if not k.startswith("MEDNET_JWT")})


def test_the_pods_run_as_the_images_user_and_probe_its_health_and_readiness_paths(rendered):
    for service in SERVICES:
        pod = rendered["Deployment", service]["spec"]["template"]["spec"]
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == dockerfile_user(service)
        (container,) = pod["containers"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "http"
        assert {container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe")} == {"/healthz"}
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def schema_errors(documents) -> list[str]:
    errors = []
    for document in documents:
        if (document["apiVersion"], document["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{document['kind']}/{document['metadata']['name']}: {error.message}")
    return errors


def test_every_rendered_manifest_is_valid_against_the_kubernetes_schemas(rendered):
    assert not schema_errors(rendered.values())


def test_the_schema_check_catches_a_mistake(rendered):
    import copy

    deployment = copy.deepcopy(rendered["Deployment", "intake"])
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8101"
    deployment["spec"]["template"]["spec"]["securityContext"]["runAsUsr"] = 10001
    assert len(schema_errors([deployment])) == 1

"""`kustomize build` renders every overlay: per service a Deployment, Service, ConfigMap, PodDisruptionBudget, KEDA
ScaledObject and TriggerAuthentication that agree with each other and with the service's Dockerfile; NetworkPolicies
deny by default; secrets (notes and notify key sets, SMTP login, a Kafka SCRAM user per service) are referenced,
never rendered; HTTP tokens are verified against the issuer's JWKS, no service holds a signing key; every service
reaches Kafka over SASL_SSL as in deploy/security."""

import re

import pytest

from deploy_files import DEPLOY, SERVICES, exposed_port, load_all_yaml, run
from deploy_files import k8s_environment as environment_of

SECURED_KAFKA_PORT = int(re.search(r"^KAFKA_BOOTSTRAP_SERVERS=[^,\n]*:(\d+)",
                                     (DEPLOY / "security" / "services.env.example").read_text(), re.MULTILINE).group(1))
SERVICE_SECRETS = {
    "notes": {"MEDNET_NOTES_MASTER_KEYS", "MEDNET_NOTES_MASTER_KEY_ID"},
    "notify": {"MEDNET_NOTIFY_SECRET_KEYS", "MEDNET_NOTIFY_SECRET_KEY_ID"},
}
RETIRED = {"MEDNET_JWT_SECRET", "MEDNET_NOTES_ENCRYPTION_KEY", "MEDNET_JWT_KEYS", "MEDNET_JWT_ACTIVE_KID"}

OVERLAYS = sorted(path.name for path in (DEPLOY / "k8s" / "overlays").iterdir() if path.is_dir())


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> dict[tuple[str, str], dict]:
    built = run("kustomize", "build", f"deploy/k8s/overlays/{request.param}")
    assert built.returncode == 0, built.stderr
    return {(document["kind"], document["metadata"]["name"]): document for document in load_all_yaml(built.stdout)}


def test_there_are_three_environments():
    assert OVERLAYS == ["dev", "production", "staging"]


def test_every_service_has_its_five_objects_and_its_network_policy(rendered):
    for service in SERVICES:
        for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "ScaledObject", "NetworkPolicy"):
            assert (kind, service) in rendered, f"{kind} {service}"
        assert ("TriggerAuthentication", f"{service}-kafka") in rendered, service
    deny = rendered["NetworkPolicy", "default-deny-all"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    namespaces = {document["metadata"].get("namespace") for document in rendered.values()}
    assert len(namespaces) == 1 and None not in namespaces, namespaces


def test_deployments_probe_health_and_readiness_on_the_port_the_image_exposes_and_run_as_non_root(rendered):
    for service in SERVICES:
        pod = rendered["Deployment", service]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        port = exposed_port(service)
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert rendered["ConfigMap", service]["data"][f"MEDNET_{service.upper()}_HTTP_PORT"] == str(port)
        assert rendered["Service", service]["spec"]["ports"][0]["port"] == port
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["image"].rsplit(":", 1)[0].endswith(f"mednet-{service}")
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def container_of(rendered, service) -> dict:
    (container,) = rendered["Deployment", service]["spec"]["template"]["spec"]["containers"]
    return container


def test_secrets_are_referenced_by_name_and_never_rendered(rendered):
    assert not [name for kind, name in rendered if kind == "Secret"]
    for service in SERVICES:
        container = container_of(rendered, service)
        assert all(set(entry) == {"name", "valueFrom"} and set(entry["valueFrom"]) == {"secretKeyRef"}
                   for entry in container["env"]), "env holds secret references only, never a value"
        for configmap in (rendered["ConfigMap", service], rendered["ConfigMap", "mednet-platform"]):
            assert not any(word in key for key in configmap["data"] for word in ("SECRET", "KEY", "KID", "PASSWORD"))
        environment = environment_of(rendered, service)
        assert not RETIRED & set(environment), f"{service} still uses {RETIRED & set(environment)}"
        wanted = {"MONGODB_URL", *SERVICE_SECRETS.get(service, ())}
        secret_names = {name for name, value in environment.items() if value.startswith("secret:")}
        assert wanted <= secret_names, wanted - secret_names
        assert environment["MEDNET_JWT_ISSUER"] == "mednet" and environment["MEDNET_JWT_AUDIENCE"] == "mednet-api"
        assert environment["MEDNET_JWT_JWKS_URL"].startswith("https://"), "verified against the issuer's JWKS"
    assert not SERVICE_SECRETS["notes"] & set(environment_of(rendered, "notify"))


def test_each_service_reaches_kafka_over_sasl_ssl_as_its_own_scram_user(rendered):
    users = set()
    for service in SERVICES:
        environment = environment_of(rendered, service)
        assert environment["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", service
        assert environment["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert environment["KAFKA_BOOTSTRAP_SERVERS"].endswith(f":{SECURED_KAFKA_PORT}")
        prefix = f"MEDNET_{service.upper()}_KAFKA_SASL_"
        user = environment[prefix + "USERNAME"]
        assert user == f"secret:mednet-{service}-kafka/username"
        assert environment[prefix + "PASSWORD"] == f"secret:mednet-{service}-kafka/password"
        users.add(user)
        assert not [name for name in environment if "KAFKA_SASL_USERNAME" in name and not name.startswith(prefix)]
        pod = rendered["Deployment", service]["spec"]["template"]["spec"]
        mounts = {m["name"]: m["mountPath"] for m in container_of(rendered, service)["volumeMounts"]}
        (ca,) = [volume for volume in pod["volumes"] if volume["name"] == "kafka-ca"]
        assert ca["secret"]["secretName"] == "mednet-kafka-ca"
        assert f"{mounts['kafka-ca']}/{ca['secret']['items'][0]['path']}" == environment["KAFKA_SSL_CAFILE"]
    assert len(users) == len(SERVICES), "one Kafka principal per service"


def test_keda_authenticates_to_kafka_with_scram_over_tls_as_the_service(rendered):
    for service in SERVICES:
        (trigger,) = rendered["ScaledObject", service]["spec"]["triggers"]
        assert trigger["authenticationRef"]["name"] == f"{service}-kafka"
        assert trigger["metadata"]["bootstrapServers"].endswith(f":{SECURED_KAFKA_PORT}")
        references = {ref["parameter"]: (ref["name"], ref["key"])
                      for ref in rendered["TriggerAuthentication", f"{service}-kafka"]["spec"]["secretTargetRef"]}
        secret = f"mednet-{service}-kafka"
        assert references == {"sasl": (secret, "sasl"), "username": (secret, "username"),
                              "password": (secret, "password"), "tls": (secret, "tls"),
                              "ca": ("mednet-kafka-ca", "ca.pem")}


def test_keda_scales_each_service_on_its_own_consumer_groups_lag(rendered):
    for service in SERVICES:
        scaled = rendered["ScaledObject", service]["spec"]
        assert scaled["scaleTargetRef"]["name"] == service
        (trigger,) = scaled["triggers"]
        assert trigger["type"] == "kafka"
        group = rendered["ConfigMap", service]["data"][f"MEDNET_{service.upper()}_CONSUMER_GROUP_ID"]
        assert trigger["metadata"]["consumerGroup"] == group
        assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
        budget = rendered["PodDisruptionBudget", service]["spec"]
        assert budget["selector"]["matchLabels"] == {"app.kubernetes.io/name": service}


def test_network_policies_let_in_only_monitoring_the_ingress_and_notify_to_notes(rendered):
    for service in SERVICES:
        policy = rendered["NetworkPolicy", service]["spec"]
        assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": service}
        sources = [peer for rule in policy["ingress"] for peer in rule["from"]]
        pods = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in sources if "podSelector" in peer]
        assert pods == (["notify"] if service == "notes" else [])
        ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
        assert {53, SECURED_KAFKA_PORT, 27017, 443} <= ports and 9092 not in ports, "443: the issuer's JWKS"
        assert (587 in ports) == (service == "notify")


def test_the_environments_differ_in_images_and_replicas():
    def deployment(overlay):
        built = run("kustomize", "build", f"deploy/k8s/overlays/{overlay}")
        return next(d for d in load_all_yaml(built.stdout) if d["kind"] == "Deployment")

    images = {overlay: deployment(overlay)["spec"]["template"]["spec"]["containers"][0]["image"] for overlay in OVERLAYS}
    assert len(set(images.values())) == len(OVERLAYS)
    assert deployment("dev")["spec"]["replicas"] < deployment("production")["spec"]["replicas"]


def test_notify_sends_mail_over_starttls_with_a_login_from_a_secret(rendered):
    environment = environment_of(rendered, "notify")
    assert environment["MEDNET_NOTIFY_SMTP_SECURITY"] == "starttls" and environment["MEDNET_NOTIFY_SMTP_PORT"] == "587"
    assert environment["MEDNET_NOTIFY_SMTP_USERNAME"] == "secret:mednet-notify-smtp/username"
    assert environment["MEDNET_NOTIFY_SMTP_PASSWORD"] == "secret:mednet-notify-smtp/password"
    for service in ("intake", "scheduling", "notes"):
        assert not [name for name in environment_of(rendered, service) if "SMTP" in name], service

"""`kustomize build` renders every overlay: per service a Deployment, Service, ConfigMap, PodDisruptionBudget and
KEDA ScaledObject that agree with each other and with the service's Dockerfile; NetworkPolicies deny by default;
secrets are referenced, never rendered."""

import pytest

from deploy_files import DEPLOY, SERVICES, exposed_port, load_all_yaml, run

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


def test_secrets_are_referenced_by_name_and_never_rendered(rendered):
    assert not [name for kind, name in rendered if kind == "Secret"]
    for service in SERVICES:
        (container,) = rendered["Deployment", service]["spec"]["template"]["spec"]["containers"]
        from_secrets = {e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
        assert {"MONGODB_URL", "MEDNET_JWT_SECRET"} <= from_secrets
        assert all("value" not in e for e in container["env"])
        for configmap in (rendered["ConfigMap", service], rendered["ConfigMap", "mednet-platform"]):
            assert not any("SECRET" in key or "KEY" in key or "PASSWORD" in key for key in configmap["data"])
    (notes,) = rendered["Deployment", "notes"]["spec"]["template"]["spec"]["containers"]
    assert "MEDNET_NOTES_ENCRYPTION_KEY" in {e["name"] for e in notes["env"]}


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
        assert {53, 9092, 27017} <= ports
        assert (587 in ports) == (service == "notify")


def test_the_environments_differ_in_images_and_replicas():
    def deployment(overlay):
        built = run("kustomize", "build", f"deploy/k8s/overlays/{overlay}")
        return next(d for d in load_all_yaml(built.stdout) if d["kind"] == "Deployment")

    images = {overlay: deployment(overlay)["spec"]["template"]["spec"]["containers"][0]["image"] for overlay in OVERLAYS}
    assert len(set(images.values())) == len(OVERLAYS)
    assert deployment("dev")["spec"]["replicas"] < deployment("production")["spec"]["replicas"]

"""The Prometheus configurations and rules pass promtool, the rules' own unit tests pass, and every metric a rule
reads is one the services expose."""

import pytest

from deploy_files import PROMETHEUS, exposed_metric_names, load_yaml, metric_names_in, recorded_names, run

CONFIGS = sorted(PROMETHEUS.glob("prometheus*.yml"))
ALERTS = {"MednetServiceDown", "MednetConsumerLagGrowing", "MednetDeadLetters", "MednetOutboxStuck",
          "MednetNotificationFailureRate", "MednetSchedulingFailures"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_promtool_accepts_the_configuration(config):
    checked = run("promtool", "check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


def test_promtool_accepts_the_rules():
    checked = run("promtool", "check", "rules", *map(str, sorted((PROMETHEUS / "rules").glob("*.yml"))))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_rules_unit_tests_pass():
    tested = run("promtool", "test", "rules", "tests/alerts_test.yml", cwd=PROMETHEUS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_the_issue_names_exists_with_a_severity_and_a_runbook():
    rules = {rule["alert"]: rule for path in (PROMETHEUS / "rules").glob("*.yml")
             for group in load_yaml(path)["groups"] for rule in group["rules"] if "alert" in rule}
    assert set(rules) == ALERTS
    tested = (PROMETHEUS / "tests" / "alerts_test.yml").read_text()
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
        assert f"alertname: {name}" in tested, f"{name} has no promtool unit test"


def test_every_metric_a_rule_reads_is_exposed_by_a_service():
    exposed = exposed_metric_names() | recorded_names()
    for path in (PROMETHEUS / "rules").glob("*.yml"):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                unknown = metric_names_in(rule["expr"]) - exposed
                assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {unknown}"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_every_service_is_scraped_once_with_its_service_label(config):
    from deploy_files import SERVICES, exposed_port

    job = load_yaml(config)["scrape_configs"][0]
    assert job["job_name"] == "mednet" and job["honor_labels"] is True
    targets = {group["labels"]["service"]: group["targets"] for group in job["static_configs"]}
    assert set(targets) == set(SERVICES)
    for service, (target,) in targets.items():
        assert target.endswith(f":{exposed_port(service)}"), (service, target)

"""The provisioned Grafana dashboard: valid JSON, a row per service and a domain row, every query on a metric the
services expose (or a recording rule), every service row showing that service only."""

import json
import re

from deploy_files import DEPLOY, SERVICES, exposed_metric_names, load_yaml, metric_names_in, recorded_names

DASHBOARD = json.loads((DEPLOY / "grafana" / "dashboards" / "mednet.json").read_text())


def rows() -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    current = None
    for panel in DASHBOARD["panels"]:
        if panel["type"] == "row":
            current = grouped.setdefault(panel["title"], [])
        else:
            assert current is not None, f"{panel['title']} is outside any row"
            current.append(panel)
    return grouped


def test_a_row_per_service_and_a_domain_row():
    assert list(rows()) == [*SERVICES, "domain"]
    assert DASHBOARD["uid"] and DASHBOARD["title"]
    assert len({panel["id"] for panel in DASHBOARD["panels"]}) == len(DASHBOARD["panels"])


def test_every_query_reads_an_exposed_metric_and_every_service_row_reads_its_own_service():
    exposed = exposed_metric_names() | recorded_names()
    for title, panels in rows().items():
        assert panels, f"row {title} is empty"
        for panel in panels:
            for target in panel["targets"]:
                names = metric_names_in(target["expr"])
                assert names or "up{" in target["expr"], target["expr"]
                assert not names - exposed, f"{panel['title']}: {names - exposed}"
                if title in SERVICES:
                    assert set(re.findall(r'service="([a-z]+)"', target["expr"])) == {title}, target["expr"]


def test_the_domain_row_shows_the_figures_the_issue_names():
    queries = " ".join(t["expr"] for panel in rows()["domain"] for t in panel["targets"])
    for figure in ("mednet_calls_scheduled_total", "mednet_call_lead_time_hours_bucket",
                   "mednet:premediation_completed_before_session:ratio1d", "mednet_scheduling_failures_total",
                   "mednet_notifications_total"):
        assert figure in queries


def test_the_datasource_the_panels_use_is_the_provisioned_one():
    (datasource,) = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    uids = {panel["datasource"]["uid"] for panel in DASHBOARD["panels"] if panel["type"] != "row"}
    assert uids == {datasource["uid"]}
    assert datasource["url"] == "http://prometheus:9090"

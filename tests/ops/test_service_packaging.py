"""Each service builds and versions alone: its own pyproject (own name and version, no other service as a
dependency), its own Dockerfile copying only the shared package and itself, and its own AsyncAPI document."""

import json
import re
import tomllib

import pytest

from deploy_files import ROOT, SERVICES, dockerfile


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_stands_alone(service):
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"mednet-{service}" and re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    others = {f"mednet-{other}" for other in SERVICES if other != service}
    assert not {re.split(r"[<>=~! \[]", dependency)[0] for dependency in project["dependencies"]} & others
    copied = re.findall(r"^COPY (?!--from)(\S+)", dockerfile(service), re.MULTILINE)
    assert set(copied) == {"constraints.txt", "shared", f"services/{service}", "shared/pyproject.toml",
                           f"services/{service}/pyproject.toml"}, copied
    document = json.loads((ROOT / "docs" / "asyncapi" / f"{service}.json").read_text())
    assert document["info"]["title"] == f"mednet {service}"

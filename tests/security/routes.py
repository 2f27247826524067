"""Every HTTP route of every service, read from its OpenAPI document, with its parameters filled in."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

SERVICES = ("intake", "scheduling", "notes", "notify")
PROBES = {"/healthz", "/readyz", "/metrics"}
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    template: str
    parameters: tuple[tuple[str, str], ...]   # (name, where) of every required path or query parameter

    def url(self, values: dict[str, str]) -> tuple[str, dict[str, str]]:
        missing = [name for name, _ in self.parameters if name not in values]
        assert not missing, f"{self}: add a value for {missing} to the security tests"
        path = self.template.format(**{n: values[n] for n, where in self.parameters if where == "path"})
        return path, {n: values[n] for n, where in self.parameters if where == "query"}

    @property
    def names_a_case(self) -> bool:
        return any(name in ("case_id", "call_id") for name, _ in self.parameters)

    def __str__(self) -> str:
        return f"{self.service} {self.method.upper()} {self.template}"


SIGNED_LINKS = {"/v1/offers/choose", "/v1/offers/decline",
                "/v1/side", "/v1/side/choose", "/v1/side/decline", "/v1/side/call.ics",
                "/v1/side/preparation", "/v1/side/statement", "/v1/side/readiness"}
"""The only routes without a bearer token: an offer email's one-click links, whose signed `token` is the key (their
attacks: tests/service/scheduling/test_scheduling_offers.py, tests/integration/test_consent_booking.py), and a
side's own routes, whose signed link (header X-Side-Link) names one party of one case (their attacks:
tests/browser/test_side_isolation.py)."""


def routes_of(service: str, app: FastAPI) -> list[Route]:
    """The routes that take a bearer token. A public route other than the signed links fails here."""
    from mednet_shared.platform.http import PUBLIC_API_PATHS

    assert PUBLIC_API_PATHS <= SIGNED_LINKS, f"public routes nobody reviewed: {PUBLIC_API_PATHS - SIGNED_LINKS}"
    found = []
    for template, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS or template in PROBES or template in PUBLIC_API_PATHS:
                continue
            parameters = tuple((p["name"], p["in"]) for p in operation.get("parameters", [])
                               if p["in"] == "path" or p.get("required"))
            found.append(Route(service, method, template, parameters))
    return found


def probes_of(app: FastAPI) -> set[str]:
    return {template for template, operations in app.openapi()["paths"].items()
            if all(not op.get("security") and "probes" in op.get("tags", []) for op in operations.values())}

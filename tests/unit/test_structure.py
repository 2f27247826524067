"""The shape of the code: no import cycle across services/, shared/ and deploy/cli (imports at any depth count,
function-level and TYPE_CHECKING ones too), and every service's domain imports no framework, no driver and no
other service."""

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOTS = [*sorted((ROOT / "services").glob("*")), ROOT / "shared", ROOT / "deploy" / "cli"]
DOMAIN_ALLOWED_THIRD_PARTY = {"pydantic", "pydantic_core", "annotated_types", "dateutil", "zoneinfo", "holidays",
                              "typing_extensions"}


@cache
def modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found = {}
    for root in PACKAGE_ROOTS:
        for package in sorted(p for p in root.glob("mednet_*") if (p / "__init__.py").exists()):
            for path in package.rglob("*.py"):
                parts = list(path.relative_to(root).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                found[".".join(parts)] = path
    return found


def imported_names(name: str, path: Path) -> list[str]:
    """Every module named by an import anywhere in the file, relative imports resolved."""
    is_package = path.name == "__init__.py"
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names += [f"{target}.{alias.name}" if target else alias.name for alias in node.names]
    return names


@cache
def import_graph() -> dict[str, set[str]]:
    known = modules()

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    graph = {}
    for name, path in known.items():
        edges = {resolve(target) for target in imported_names(name, path)}
        graph[name] = {edge for edge in edges if edge and edge != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first == last), or None; iterative DFS."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def test_the_finder_sees_a_cycle_through_a_function_level_import(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    module = tmp_path / "mednet_x" / "one.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from . import two\n    from .three import thing\n")
    assert imported_names("mednet_x.one", module) == ["mednet_x.two", "mednet_x.three.thing"]


def test_the_graph_covers_every_package():
    graph = import_graph()
    assert {"mednet_shared.platform.cas", "mednet_cli.main", "mednet_notify.app"} <= set(graph)
    assert "mednet_cli.main" in {m for edges in graph.values() for m in edges} or graph["mednet_cli.__main__"]


def test_no_import_cycle_in_services_shared_and_the_cli():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def domain_modules() -> list[tuple[str, str, Path]]:
    found = []
    for name, path in modules().items():
        parts = name.split(".")
        if parts[0] in ("mednet_shared", "mednet_cli") or len(parts) < 2 or not parts[1].startswith("domain"):
            continue
        found.append((parts[0], name, path))
    return sorted(found)


def forbidden_imports(service_package: str, name: str, path: Path) -> list[str]:
    stdlib = sys.stdlib_module_names
    bad = []
    for target in imported_names(name, path):
        top = target.split(".")[0]
        if top == "__future__" or top in stdlib or top in DOMAIN_ALLOWED_THIRD_PARTY:
            continue
        if target == "mednet_shared.contracts" or target.startswith("mednet_shared.contracts."):
            continue
        if target.startswith(f"{service_package}.domain") or target == service_package:
            continue
        bad.append(target)
    return sorted(set(bad))


def test_every_service_has_a_domain_module():
    services = {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}
    assert {f"mednet_{s}" for s in services} == {package for package, _, _ in domain_modules()}


@pytest.mark.parametrize("package,name,path", domain_modules(), ids=[n for _, n, _ in domain_modules()])
def test_a_domain_module_imports_only_the_standard_library_pydantic_and_the_contracts(package, name, path):
    bad = forbidden_imports(package, name, path)
    assert not bad, f"{path.relative_to(ROOT)} imports {', '.join(bad)}"


def test_the_domain_check_refuses_a_framework_a_driver_and_another_service(tmp_path):
    module = tmp_path / "domain.py"
    module.write_text("import fastapi\nfrom pymongo import ReturnDocument\nfrom mednet_intake.domain import x\n"
                      "from mednet_shared.platform.cas import Conflict\nfrom mednet_shared.contracts import events\n"
                      "from .domain_rules import y\nimport pydantic, datetime\n")
    assert forbidden_imports("mednet_notes", "mednet_notes.domain", module) == [
        "fastapi", "mednet_intake.domain.x", "mednet_shared.platform.cas.Conflict", "pymongo.ReturnDocument"]


DEV_LAYER = ("mednet_cli.stack", "mednet_cli.fleet", "mednet_cli.dev", "mednet_cli.processes", "mednet_cli.chaos",
             "mednet_cli.bench", "mednet_cli.demo", "mednet_cli.smtp_sink", "mednet_cli.tokens", "mednet_cli.firms",
             "mednet_cli.kafka_acls")


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for child in graph.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def test_the_operator_commands_never_reach_the_local_stack():
    graph = import_graph()
    operator_modules = [name for name in graph if name.startswith("mednet_cli.ops")]
    assert "mednet_cli.ops.commands" in operator_modules
    for name in operator_modules:
        local = sorted(m for m in reachable(graph, name) if m.startswith(DEV_LAYER))
        assert not local, f"{name} imports the dev layer: {', '.join(local)}"


INFRASTRUCTURE_FIXTURES = {"infrastructure", "kafka", "mongo", "db"}
FAST_TIERS = ("unit", "contract", "service")


def infrastructure_users(path: Path) -> list[str]:
    """Test functions and fixtures of the file that ask for real Kafka or MongoDB (tests/conftest.py's fixtures)."""
    users = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            asked = {a.arg for a in node.args.args + node.args.kwonlyargs} & INFRASTRUCTURE_FIXTURES
            if asked:
                users.append(f"{node.name}({', '.join(sorted(asked))})")
    return users


def test_the_fast_tiers_need_no_kafka_and_no_mongodb(tmp_path):
    sample = tmp_path / "test_x.py"
    sample.write_text("async def test_a(kafka, unique):\n    pass\n\ndef test_b(tmp_path):\n    pass\n")
    assert infrastructure_users(sample) == ["test_a(kafka)"]
    found = {str(path.relative_to(ROOT)): users for tier in FAST_TIERS for path in (ROOT / "tests" / tier).rglob("*.py")
             if (users := infrastructure_users(path))}
    assert not found, f"tests of the fast tiers ask for real infrastructure: {found}"

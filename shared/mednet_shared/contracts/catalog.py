"""JSON Schemas of every contract, generated from the models, and the backward-compatibility check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .envelope import CloudEvent
from .events import BY_TYPE

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
ASYNCAPI_DIR = Path(__file__).resolve().parents[3] / "docs" / "asyncapi"
ENVELOPE_SCHEMA = "cloudevents.envelope"


def generated_schemas() -> dict[str, dict[str, Any]]:
    schemas = {name: _with_id(model.model_json_schema(), name) for name, model in sorted(BY_TYPE.items())}
    schemas[ENVELOPE_SCHEMA] = _with_id(CloudEvent.model_json_schema(), ENVELOPE_SCHEMA)
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    return _write(directory, generated_schemas())


def _write(directory: Path, documents: dict[str, dict[str, Any]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents.items():
        path = directory / f"{name}.json"
        path.write_text(render(document))
        written.append(path)
    return written


def asyncapi_documents() -> dict[str, dict[str, Any]]:
    """Each service's AsyncAPI document and the firms' one, from the services' wiring (they must be installed)."""
    from .asyncapi import documents

    return documents()


def export_asyncapi(directory: Path = ASYNCAPI_DIR) -> list[Path]:
    return _write(directory, asyncapi_documents())


def _with_id(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"urn:mednet:schema:{name}", **schema}


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why data valid under the published schema `old` could be rejected, or misread, under `new`."""
    return _Comparison(old, new).compare(old, new, "")


class _Comparison:
    NARROWING = {
        "maxLength": lambda old, new: new < old,
        "minLength": lambda old, new: new > old,
        "maxItems": lambda old, new: new < old,
        "minItems": lambda old, new: new > old,
        "maximum": lambda old, new: new < old,
        "minimum": lambda old, new: new > old,
        "exclusiveMaximum": lambda old, new: new < old,
        "exclusiveMinimum": lambda old, new: new > old,
        "pattern": lambda old, new: new != old,
        "format": lambda old, new: new != old,
        "const": lambda old, new: new != old,
    }

    def __init__(self, old_root: dict[str, Any], new_root: dict[str, Any]) -> None:
        self.old_root, self.new_root = old_root, new_root

    def resolve(self, schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                break
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def compare(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
        old, new = self.resolve(old, self.old_root), self.resolve(new, self.new_root)
        where = path or "<root>"
        problems: list[str] = []
        lost_types = {t for t in _types(old) if t not in _types(new) and not (t == "integer" and "number" in _types(new))}
        if _types(new) and lost_types:
            problems.append(f"{where}: type no longer admits {sorted(lost_types)}")
        for keyword, narrows in self.NARROWING.items():
            if keyword in new and (keyword not in old or narrows(old[keyword], new[keyword])):
                problems.append(f"{where}: {keyword} narrowed from {old.get(keyword, 'none')!r} to {new[keyword]!r}")
        if "enum" in new:
            removed = set(map(str, old.get("enum", []))) - set(map(str, new["enum"])) if "enum" in old else {"*"}
            if removed:
                problems.append(f"{where}: enum no longer admits {sorted(removed)}")
        if old.get("additionalProperties", True) is not False and new.get("additionalProperties") is False:
            problems.append(f"{where}: additional properties are no longer allowed")
        old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
        for name, old_property in old_properties.items():
            child = f"{path}.{name}" if path else name
            if name not in new_properties:
                problems.append(f"{child}: property removed")
            else:
                problems += self.compare(old_property, new_properties[name], child)
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            problems.append(f"{path + '.' if path else ''}{name}: new required field")
        if "items" in old and "items" in new:
            problems += self.compare(old["items"], new["items"], f"{path}[]")
        for keyword in ("anyOf", "oneOf"):
            old_branches, new_branches = old.get(keyword, []), new.get(keyword, [])
            if len(new_branches) < len(old_branches):
                problems.append(f"{where}: {keyword} lost {len(old_branches) - len(new_branches)} alternative(s)")
            else:
                for index, branch in enumerate(old_branches):
                    problems += self.compare(branch, new_branches[index], f"{path}|{index}")
        return problems


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if kind is None:
        return set()
    return {kind} if isinstance(kind, str) else set(kind)

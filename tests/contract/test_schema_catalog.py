"""The checked-in JSON Schemas are the published contract: in sync with the models, and never changed
incompatibly, neither against the file as it stands nor against any version of it in git history."""

import json
import subprocess
from typing import ClassVar

import pytest
from pydantic import Field

from mednet_shared.contracts import catalog
from mednet_shared.contracts.events import BY_TYPE, EVENTS, CallCompleted, CaseWithdrawn
from mednet_shared.contracts.topics import Topics

GENERATED = catalog.generated_schemas()


def checked_in(name: str) -> dict:
    return json.loads((catalog.SCHEMA_DIR / f"{name}.json").read_text())


def history(name: str) -> list[dict]:
    path = catalog.SCHEMA_DIR / f"{name}.json"
    try:
        commits = subprocess.run(["git", "log", "--format=%H", "--", str(path)], capture_output=True, text=True,
                                 cwd=catalog.SCHEMA_DIR, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return []
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          cwd=catalog.SCHEMA_DIR).stdout.strip()
    relative = path.relative_to(root)
    return [json.loads(subprocess.run(["git", "show", f"{commit}:{relative}"], capture_output=True, text=True,
                                      cwd=root, check=True).stdout) for commit in commits]


def test_every_event_of_the_design_brief_has_a_v1_contract():
    names = {model.__name__ for model in EVENTS}
    assert names == {
        "CaseOpened", "CaseUpdated", "CaseRejected", "CaseWithdrawn", "RepresentationRequested",
        "SideConfirmationOverdue", "CommandRejected", "CallSlotsOffered", "CallWaived", "InvitationReplied",
        "CallScheduled", "CallRescheduled", "CallCancelled", "CallCompleted", "CallMissed", "SchedulingFailed",
        "PreMediationCompleted", "ObjectivesRecorded", "BriefReady", "StatementReceived", "SideReadinessChanged",
        "CaseReadyForSession", "CallOutcomeRecorded", "ReadinessRequired", "ReadinessReminder", "NotificationSent",
        "NotificationFailed",
    }
    assert all(name.endswith(".v1") for name in BY_TYPE)
    assert {model.topic for model in EVENTS} == set(Topics.service_topics())


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_checked_in_schema_is_in_sync_with_the_model(name):
    assert (catalog.SCHEMA_DIR / f"{name}.json").exists(), f"run `mednet catalog export` to add {name}"
    assert catalog.render(checked_in(name)) == catalog.render(GENERATED[name]), (
        f"{name} differs from its model; if the change is compatible, run `mednet catalog export`"
    )


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_model_is_backward_compatible_with_every_published_version(name):
    published = [checked_in(name)] + history(name)
    for version in published:
        assert catalog.incompatibilities(version, GENERATED[name]) == []


class CallCompletedWithNewRequiredField(CallCompleted):
    topic: ClassVar[str] = Topics.SCHEDULING
    outcome_code: str


class CaseWithdrawnWithoutReason(CaseWithdrawn):
    reason: int = Field(default=0)


def schema_of(model) -> dict:
    return model.model_json_schema()


def test_adding_a_required_field_to_a_v1_event_is_incompatible():
    problems = catalog.incompatibilities(checked_in("mednet.CallCompleted.v1"),
                                         schema_of(CallCompletedWithNewRequiredField))
    assert problems == ["outcome_code: new required field"]


def test_changing_a_field_type_is_incompatible():
    problems = catalog.incompatibilities(checked_in("mednet.CaseWithdrawn.v1"), schema_of(CaseWithdrawnWithoutReason))
    assert any(problem.startswith("reason: type no longer admits ['string']") for problem in problems)


def test_removing_a_property_narrowing_an_enum_or_a_length_is_incompatible():
    old = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 10},
                                            "b": {"enum": ["x", "y"]}, "c": {"type": "integer"}}}
    new = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}, "b": {"enum": ["x"]}}}
    problems = catalog.incompatibilities(old, new)
    assert "c: property removed" in problems
    assert "b: enum no longer admits ['y']" in problems
    assert "a: maxLength narrowed from 10 to 5" in problems


def test_adding_an_optional_field_or_widening_is_compatible():
    old = {"type": "object", "properties": {"a": {"type": "integer", "maximum": 5}}, "required": ["a"]}
    new = {"type": "object", "properties": {"a": {"type": "number", "maximum": 9}, "b": {"type": "string"}},
           "required": ["a"]}
    assert catalog.incompatibilities(old, new) == []


def test_nested_required_fields_are_found_through_refs():
    old = {"type": "object", "properties": {"m": {"$ref": "#/$defs/M"}}, "$defs": {"M": {"type": "object",
           "properties": {"x": {"type": "string"}}}}}
    new = {"type": "object", "properties": {"m": {"$ref": "#/$defs/M"}}, "$defs": {"M": {"type": "object",
           "properties": {"x": {"type": "string"}, "y": {"type": "string"}}, "required": ["y"]}}}
    assert catalog.incompatibilities(old, new) == ["m.y: new required field"]


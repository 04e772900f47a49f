"""Each event model's JSON schema is pinned per topic version, in tests/data/contract/<topic>.json.

Consumers of ``dispatch.calls.triaged.v1`` validate with the model as it was when they were built,
so the schema of a ``.vN`` topic may only change in ways they still accept. A change fails here
until it is either moved to a new topic version or, when deliberate and additive, pinned again:

    UPDATE_CONTRACT_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_contract_snapshots.py -q

(then commit the rewritten files with the change).
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from dispatch_shared.events import EVENT_TYPES, Event, Topic

SNAPSHOTS = Path(__file__).parents[1] / "data" / "contract"
UPDATE = os.environ.get("UPDATE_CONTRACT_SNAPSHOTS") == "1"
MODELS = sorted(EVENT_TYPES.values(), key=lambda model: model.topic)
REGENERATE = "UPDATE_CONTRACT_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_contract_snapshots.py -q"
# Keywords that document a schema without changing what it accepts.
PROSE = frozenset({"title", "description"})
# Keywords whose values are maps of names (fields, definitions), not schemas with keywords.
NAMED = frozenset({"properties", "$defs"})


def render(model: type[Event]) -> str:
    """The snapshot text of ``model``: its JSON schema, keys sorted, two-space indent."""
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def without_prose(schema: Any, *, names: bool = False) -> Any:
    """``schema`` without its titles and descriptions: what it accepts, and nothing else."""
    if isinstance(schema, dict):
        return {
            key: without_prose(value, names=key in NAMED and not names)
            for key, value in schema.items()
            if names or key not in PROSE
        }
    if isinstance(schema, list):
        return [without_prose(item) for item in schema]
    return schema


def snapshot(model: type[Event]) -> Path:
    return SNAPSHOTS / f"{model.topic}.json"


def test_every_topic_carries_exactly_one_model() -> None:
    # A snapshot is named after its topic, and a consumer's handler takes its topic from its model.
    assert sorted(model.topic for model in MODELS) == sorted(Topic)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: str(model.topic))
def test_an_event_schema_is_the_one_pinned_for_its_topic(model: type[Event]) -> None:
    path = snapshot(model)
    current = render(model)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(current, encoding="utf-8")
        return
    assert path.exists(), (
        f"{model.__name__} ({model.topic}) has no pinned schema; create it with {REGENERATE}"
    )
    pinned = path.read_text(encoding="utf-8")
    if pinned == current:
        return
    prose_only = without_prose(json.loads(pinned)) == without_prose(json.loads(current))
    diff = "".join(
        difflib.unified_diff(
            pinned.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"pinned {path.relative_to(SNAPSHOTS.parents[2])}",
            tofile=f"{model.__name__}.model_json_schema()",
            n=2,
        )
    )
    if prose_only:
        advice = (
            "Only titles or descriptions changed, which no consumer validates: pin the schema "
            f"again with\n    {REGENERATE}\nand commit the snapshot."
        )
    else:
        advice = (
            f"Consumers of {model.topic} validate with the pinned schema. A breaking change (a field "
            "removed, renamed, retyped or made required, a constraint tightened, a new enum value, "
            "a new field where extra fields are forbidden) needs a new .vN topic and model, the old "
            "one kept until every consumer has moved. A deliberate additive change (a new optional "
            f"field, a looser constraint) is pinned again with\n    {REGENERATE}\n"
            "and the snapshot committed with the change."
        )
    pytest.fail(f"The schema of {model.__name__} changed.\n{advice}\n\n{diff}", pytrace=False)


def test_every_pinned_schema_is_of_a_topic_in_the_contract() -> None:
    pinned = {path.name.removesuffix(".json") for path in SNAPSHOTS.glob("*.json")}
    gone = pinned - {str(model.topic) for model in MODELS}
    assert not gone, (
        f"pinned schemas of topics no model travels on: {sorted(gone)}; a topic is retired only "
        "once nothing produces or consumes it, and then its snapshot is deleted by hand"
    )

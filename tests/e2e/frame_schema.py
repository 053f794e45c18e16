"""The JSON Schemas of the WebSocket frames (docs/schema/), loaded once, for validating frames.

`problem(frame, "server")` is None when the frame is valid under docs/schema/server-frame.json,
else one line naming the frame and the schema error. The umbrella schemas are a `oneOf` of one
schema per frame type, which validators report as "not valid under any of the given schemas";
for a frame whose `type` is known, the message therefore gives the errors of that type's own schema.
The `$id`s use the reserved host `chat-engine.invalid`: every reference is resolved from the files
of docs/schema/ through a `referencing` registry, and nothing is fetched.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urldefrag, urljoin

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schema"
BASE_URI = "https://chat-engine.invalid/schema/"

Direction = Literal["client", "server"]
ANNOTATIONS = frozenset({"title", "description", "default", "examples"})


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.rglob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def registry() -> Registry:
    resources = []
    for path in schema_files():
        resource = Resource.from_contents(load(path))
        expected = BASE_URI + path.relative_to(SCHEMA_DIR).as_posix()
        if resource.id() != expected:
            raise AssertionError(f"{path}: $id is {resource.id()!r}, expected {expected!r}")
        resources.append((expected, resource))
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def validator(relative: str) -> Draft202012Validator:
    """A validator for one schema, named by its path under docs/schema/ ("server-frame.json")."""
    return Draft202012Validator(load(SCHEMA_DIR / relative), registry=registry())


@lru_cache(maxsize=None)
def inlined(relative: str) -> dict:
    """The schema with each `$ref` replaced by what it refers to (resolved by `referencing`).

    The same constraints, checked several times faster: jsonschema resolves a `$ref` anew on every
    use, and the suite validates tens of thousands of frames. A `$ref`'s sibling keywords apply beside
    it (draft 2020-12), hence the `allOf`; annotations beside it (a description) constrain nothing
    and are left out. The schemas have no recursive references.
    """

    def walk(node: Any, base: str, depth: int) -> Any:
        if depth > 32:
            raise AssertionError(f"{relative}: $refs nested more than 32 deep (a cycle?)")
        if isinstance(node, list):
            return [walk(v, base, depth) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" not in node:
            return {k: walk(v, base, depth) for k, v in node.items()}
        target_uri = urljoin(base, node["$ref"])
        target = walk(registry().resolver(base).lookup(node["$ref"]).contents, urldefrag(target_uri).url, depth + 1)
        rest = {k: walk(v, base, depth) for k, v in node.items() if k != "$ref" and k not in ANNOTATIONS}
        return {"allOf": [target], **rest} if rest else target

    schema = load(SCHEMA_DIR / relative)
    return walk(schema, schema["$id"], 0)


@lru_cache(maxsize=None)
def fast_validator(relative: str) -> Draft202012Validator:
    return Draft202012Validator(inlined(relative))


@lru_cache(maxsize=None)
def frame_types(direction: Direction) -> tuple[str, ...]:
    """The frame types of one direction: the names of docs/schema/<direction>/*.json."""
    return tuple(sorted(p.stem for p in (SCHEMA_DIR / direction).glob("*.json")))


def describe(error) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(the frame)"
    return f"at {where}: {error.message} (schema path {'/'.join(str(p) for p in error.schema_path)})"


def own_schema(frame: Any, direction: Direction) -> str | None:
    """The schema of the frame's own `type` ("server/hello.json"), or None for an unknown type."""
    type_ = frame.get("type") if isinstance(frame, dict) else None
    if isinstance(type_, str) and type_ in frame_types(direction):
        return f"{direction}/{type_}.json"
    return None


def is_valid(frame: Any, direction: Direction) -> bool:
    """The umbrella schema's verdict on a frame.

    The umbrella is a `oneOf` of the schemas of docs/schema/<direction>/, each of which requires
    `type` to be its own name (test_schema.py checks both), so a frame of a known type is valid under
    the umbrella exactly when it is valid under its own type's schema. Checking only that one, with
    its references inlined, is about ten times faster, which matters for the suite's message floods.
    """
    own = own_schema(frame, direction)
    return fast_validator(own or f"{direction}-frame.json").is_valid(frame)


def errors(frame: Any, direction: Direction) -> list[str]:
    """The schema errors of a frame under the umbrella schema of its direction (empty when valid)."""
    umbrella = validator(f"{direction}-frame.json")
    if umbrella.is_valid(frame):
        return []
    own = own_schema(frame, direction)
    if own is not None:
        found = sorted(validator(own).iter_errors(frame), key=lambda e: [str(p) for p in e.absolute_path])
        if found:
            return [f"{own} " + describe(e) for e in found]
    # No branch of the umbrella's oneOf applies: its one error ("not valid under any of the given
    # schemas") is said more usefully in terms of the discriminator.
    if not isinstance(frame, dict):
        why = f"a frame is a JSON object, not {type(frame).__name__}"
    elif "type" not in frame:
        why = "the frame has no \"type\""
    else:
        why = f"\"type\" {frame['type']!r} is none of the {direction} frame types {list(frame_types(direction))}"
    return [f"{direction}-frame.json: {why} ({describe(best_match(umbrella.iter_errors(frame)))})"]


def problem(frame: Any, direction: Direction) -> str | None:
    """None for a valid frame, else a message naming the frame and its schema errors."""
    if is_valid(frame, direction):
        return None
    text = json.dumps(frame, ensure_ascii=False, default=repr)
    if len(text) > 300:
        text = text[:300] + f"...({len(text)} chars)"
    return f"{direction} frame {text} breaks docs/schema: " + "; ".join(errors(frame, direction))


"""The JSON Schemas of the WebSocket frames (docs/schema/) are valid, agree with docs/protocol.md,
refuse what the protocol refuses, and agree with the real server: it sends every frame type in a
valid form, refuses the client frames the schema refuses and answers those it accepts. (Beyond this
file, conftest.py validates every frame each Client of the suite receives.)"""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

import frame_schema
from conftest import REPO_ROOT, close_all, mint
from frame_schema import SCHEMA_DIR, load, validator

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
DIRECTIONS = ("client", "server")
PROTOCOL_MD = REPO_ROOT / "docs" / "protocol.md"

# The frame types of docs/protocol.md §2.3 and §2.4: one schema file each.
CLIENT_TYPES = ("ping", "refresh", "send", "sync", "typing")
SERVER_TYPES = ("error", "hello", "message", "pong", "refreshed", "sent", "synced", "typing")


def relative(path) -> str:
    return path.relative_to(SCHEMA_DIR).as_posix()


@pytest.mark.parametrize("name", [relative(p) for p in frame_schema.schema_files()])
def test_schema_file_is_valid_draft_2020_12(name):
    schema = load(SCHEMA_DIR / name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_2020_12, name
    assert schema["$id"] == frame_schema.BASE_URI + name, f"{name}: its $id does not mirror its path"
    assert schema.get("title") and schema.get("description"), f"{name} needs a title and a description"


def test_every_frame_type_of_the_protocol_has_a_schema():
    assert frame_schema.frame_types("client") == CLIENT_TYPES
    assert frame_schema.frame_types("server") == SERVER_TYPES


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_umbrella_is_a_oneof_discriminated_by_type(direction):
    """The shape frame_schema.is_valid relies on: one branch per type file, each requiring its type."""
    umbrella = load(SCHEMA_DIR / f"{direction}-frame.json")
    refs = [branch["$ref"] for branch in umbrella["oneOf"]]
    assert sorted(refs) == sorted(f"{direction}/{t}.json" for t in frame_schema.frame_types(direction))
    for type_ in frame_schema.frame_types(direction):
        schema = load(SCHEMA_DIR / direction / f"{type_}.json")
        assert schema["type"] == "object"
        assert schema["properties"]["type"] == {"const": type_}
        assert "type" in schema["required"]
        # The server ignores unknown fields of client frames; the server's own frames have no others.
        assert schema["additionalProperties"] is (direction == "client"), type_
        if direction == "server":
            assert set(schema["required"]) <= set(schema["properties"])


@pytest.mark.parametrize("name", [relative(p) for p in frame_schema.schema_files() if p.name != "common.json"])
def test_inlined_schema_has_no_references_left(name):
    """The form frame_schema.is_valid checks frames with: the same schema, its $refs resolved."""
    flat = frame_schema.inlined(name)
    Draft202012Validator.check_schema(flat)
    assert "$ref" not in json.dumps(flat), name


@pytest.mark.parametrize(
    "name", [f"{d}/{t}.json" for d in DIRECTIONS for t in frame_schema.frame_types(d)]
)
def test_schema_examples_are_valid(name):
    direction = name.split("/")[0]
    examples = load(SCHEMA_DIR / name).get("examples")
    assert examples, f"{name} has no examples"
    for example in examples:
        assert validator(name).is_valid(example), frame_schema.errors(example, direction)
        assert validator(f"{direction}-frame.json").is_valid(example), frame_schema.errors(example, direction)


def protocol_examples() -> list[tuple[str, str, dict]]:
    """(direction, where, frame) for every line of the ```json blocks of protocol.md §2.

    A block is a client frame when it is the first block under a `#### \\`<client frame type>\\``
    heading of §2.3 (that frame's example); every other block of §2 shows what the server sends.
    """
    found = []
    in_section = in_block = False
    heading, blocks_under_heading, block_direction = "", 0, "server"
    for number, line in enumerate(PROTOCOL_MD.read_text(encoding="utf-8").splitlines(), 1):
        if not in_block and line.startswith("## "):
            in_section = line.startswith("## 2.")
            continue
        if not in_section:
            continue
        if not in_block and line.startswith("#"):
            heading, blocks_under_heading = line, 0
        elif not in_block and line.strip() == "```json":
            in_block = True
            match = re.fullmatch(r"#### `(\w+)`", heading)
            is_client = match is not None and match.group(1) in CLIENT_TYPES and blocks_under_heading == 0
            block_direction = "client" if is_client else "server"
            blocks_under_heading += 1
        elif in_block and line.strip() == "```":
            in_block = False
        elif in_block and line.strip():
            frame = json.loads(line)
            found.append((block_direction, f"protocol.md:{number} {block_direction} {frame.get('type')}", frame))
    return found


PROTOCOL_EXAMPLES = protocol_examples()


def test_protocol_examples_cover_the_frames():
    """The parse above found the examples: every frame that protocol.md shows in a JSON block."""
    seen = {(d, f["type"]) for d, _, f in PROTOCOL_EXAMPLES}
    assert {("client", t) for t in ("send", "sync", "typing", "refresh")} <= seen, seen
    assert {("server", t) for t in ("hello", "message", "sent", "synced", "error")} <= seen, seen
    assert any(d == "server" and f["type"] == "error" and "id" not in f for d, _, f in PROTOCOL_EXAMPLES)
    assert any(d == "server" and f["type"] == "error" and "id" in f for d, _, f in PROTOCOL_EXAMPLES)


@pytest.mark.parametrize(
    "direction,frame", [(d, f) for d, _, f in PROTOCOL_EXAMPLES], ids=[w for _, w, _ in PROTOCOL_EXAMPLES]
)
def test_protocol_example_is_valid(direction, frame):
    assert validator(f"{direction}-frame.json").is_valid(frame), frame_schema.errors(frame, direction)
    assert frame_schema.is_valid(frame, direction)


MSG_ID = "01a20b73288f0a604050342f5bca7c0e"
HELLO = {"type": "hello", "user": "kiran", "connection_id": "6a42cc7a205001045c2b745b", "node": "n-1",
         "last_seq": 0, "exp": 1795492024}
MESSAGE = {"type": "message", "seq": 1, "msg_id": MSG_ID, "from": "kiran", "to": "alex", "body": "hi",
           "ts": 1795488426127}
SENT = {"type": "sent", "id": "m1", "msg_id": MSG_ID, "seq": 1, "ts": 1795488426127}
SYNCED = {"type": "synced", "after": 0, "upto": 2, "more": False}
ERROR = {"type": "error", "code": "bad_request", "message": "unknown frame type"}
SEND = {"type": "send", "id": "m1", "to": "alex", "body": "hello"}


def without(frame: dict, key: str) -> dict:
    return {k: v for k, v in frame.items() if k != key}


# (case, direction, frame, the JSON Schema keyword that refuses it)
BAD_FRAMES = [
    ("server: not an object", "server", ["hello"], "oneOf"),
    ("server: no type", "server", without(HELLO, "type"), "oneOf"),
    ("server: an unknown type", "server", {"type": "welcome"}, "oneOf"),
    ("server: a type that is not a string", "server", {"type": 1}, "oneOf"),
    ("server: a client frame type", "server", {"type": "ping"}, "oneOf"),
    ("hello without exp", "server", without(HELLO, "exp"), "required"),
    ("hello with an upper-case connection_id", "server", {**HELLO, "connection_id": "6A42CC7A205001045C2B745B"},
     "pattern"),
    ("hello with a negative last_seq", "server", {**HELLO, "last_seq": -1}, "minimum"),
    ("hello with an empty node", "server", {**HELLO, "node": ""}, "minLength"),
    ("hello with an undocumented field", "server", {**HELLO, "version": 2}, "additionalProperties"),
    ("message without body", "server", without(MESSAGE, "body"), "required"),
    ("message with seq 0", "server", {**MESSAGE, "seq": 0}, "minimum"),
    ("message with seq as a string", "server", {**MESSAGE, "seq": "1"}, "type"),
    ("message with a fractional ts", "server", {**MESSAGE, "ts": 1.5}, "type"),
    ("message with a short msg_id", "server", {**MESSAGE, "msg_id": MSG_ID[:31]}, "pattern"),
    ("message from an invalid username", "server", {**MESSAGE, "from": "kiran!"}, "pattern"),
    ("message with an empty body", "server", {**MESSAGE, "body": ""}, "minLength"),
    ("message with an undocumented field", "server", {**MESSAGE, "edited": False}, "additionalProperties"),
    ("sent without id", "server", without(SENT, "id"), "required"),
    ("sent without seq", "server", without(SENT, "seq"), "required"),
    ("synced with more as a string", "server", {**SYNCED, "more": "false"}, "type"),
    ("synced without upto", "server", without(SYNCED, "upto"), "required"),
    ("typing with to instead of from", "server", {"type": "typing", "to": "alex"}, "required"),
    ("refreshed with exp as a string", "server", {"type": "refreshed", "exp": "1795495630"}, "type"),
    ("pong with a field", "server", {"type": "pong", "ts": 1}, "additionalProperties"),
    ("error with a REST-only code", "server", {**ERROR, "code": "not_found"}, "enum"),
    ("error without message", "server", without(ERROR, "message"), "required"),
    ("error with a null id", "server", {**ERROR, "id": None}, "type"),
    ("client: not an object", "client", "ping", "oneOf"),
    ("client: no type", "client", {"to": "alex"}, "oneOf"),
    ("client: an unknown type", "client", {"type": "subscribe"}, "oneOf"),
    ("client: a server event type", "client", {"type": "pong"}, "oneOf"),
    ("send without body", "client", without(SEND, "body"), "required"),
    ("send with an empty body", "client", {**SEND, "body": ""}, "minLength"),
    ("send with an empty id", "client", {**SEND, "id": ""}, "minLength"),
    ("send with a 65-character id", "client", {**SEND, "id": "x" * 65}, "maxLength"),
    ("send with a numeric id", "client", {**SEND, "id": 7}, "type"),
    ("send to an invalid username", "client", {**SEND, "to": "al ex"}, "pattern"),
    ("send to a 65-character username", "client", {**SEND, "to": "a" * 65}, "pattern"),
    ("sync with limit 0", "client", {"type": "sync", "limit": 0}, "minimum"),
    ("sync with limit 1001", "client", {"type": "sync", "limit": 1001}, "maximum"),
    ("sync with a negative after", "client", {"type": "sync", "after": -1}, "minimum"),
    ("sync with after as a string", "client", {"type": "sync", "after": "1"}, "type"),
    ("sync with after beyond 64 bits", "client", {"type": "sync", "after": 2**64}, "maximum"),
    ("typing without to", "client", {"type": "typing"}, "required"),
    ("refresh with an empty token", "client", {"type": "refresh", "token": ""}, "minLength"),
]


@pytest.mark.parametrize("case,direction,frame,keyword", BAD_FRAMES, ids=[c[0] for c in BAD_FRAMES])
def test_schema_refuses(case, direction, frame, keyword):
    umbrella = validator(f"{direction}-frame.json")
    assert not umbrella.is_valid(frame), f"{case}: accepted"
    assert not frame_schema.is_valid(frame, direction), f"{case}: accepted by the per-type check"
    if keyword == "oneOf":
        assert {e.validator for e in umbrella.iter_errors(frame)} == {"oneOf"}
    else:
        own = validator(f"{direction}/{frame['type']}.json")
        assert keyword in {e.validator for e in own.iter_errors(frame)}, frame_schema.errors(frame, direction)
    message = frame_schema.problem(frame, direction)
    assert message is not None and "breaks docs/schema" in message


# Frames at the edges of the rules that the protocol allows (each was seen from the real server or
# is accepted by it).
GOOD_FRAMES = [
    ("send with a field the server ignores", "client", {**SEND, "client_ts": 1}),
    ("send with a 64-byte id", "client", {**SEND, "id": "x" * 64}),
    ("a note to self", "client", {**SEND, "to": "kiran"}),
    ("sync with defaults", "client", {"type": "sync"}),
    ("sync after the largest seq", "client", {"type": "sync", "after": 2**64 - 1, "limit": 1000}),
    ("ping with padding", "client", {"type": "ping", "pad": "a" * 100}),
    ("hello of a token that never expires", "server", {**HELLO, "exp": 2**63 - 1}),
    ("synced answering the largest after", "server", {**SYNCED, "after": 2**64 - 1, "upto": 2**64 - 1}),
    ("error echoing an empty id", "server", {**ERROR, "message": '"id" must be 1-64 characters', "id": ""}),
    ("error echoing a 70-byte id", "server", {**ERROR, "message": '"id" must be 1-64 characters', "id": "x" * 70}),
    ("a 64-character username", "server", {"type": "typing", "from": "a" * 64}),
]


@pytest.mark.parametrize("case,direction,frame", GOOD_FRAMES, ids=[c[0] for c in GOOD_FRAMES])
def test_schema_accepts(case, direction, frame):
    assert validator(f"{direction}-frame.json").is_valid(frame), frame_schema.errors(frame, direction)
    assert frame_schema.is_valid(frame, direction)


# ---- against the real server


async def test_the_server_sends_every_frame_type_and_each_is_valid(server):
    """Drives the binary to send each of its eight frame types, error with and without `id`."""
    alice, alice_token = server.new_user("alice")
    bob, bob_token = server.new_user("bob")
    a = await server.connect(alice_token)
    b = await server.connect(bob_token)
    try:
        await a.send_message("s1", bob, "hello bob")
        await a.sent("s1")
        await b.expect("message")
        await a.sync()
        await a.send({"type": "typing", "to": bob})
        await b.expect("typing")
        await a.send({"type": "refresh", "token": mint(alice)})
        await a.expect("refreshed")
        await a.ping()
        await a.send_message("s2", "ghost-" + bob, "hello?")
        await a.expect_error("unknown_recipient", cid="s2")
        await a.send({"type": "sync", "limit": 0})
        await a.expect_error("bad_request")
        received = a.frames + b.frames
    finally:
        await close_all(a, b)
    assert {f["type"] for f in received} == set(SERVER_TYPES)
    assert any(f["type"] == "error" and "id" in f for f in received)
    assert any(f["type"] == "error" and "id" not in f for f in received)
    for frame in received:
        assert validator("server-frame.json").is_valid(frame), frame_schema.errors(frame, "server")


CLIENT_BAD_FRAMES = [row for row in BAD_FRAMES if row[1] == "client"]


async def test_the_server_refuses_what_the_client_schema_refuses(server):
    """Each client frame the schema refuses gets `error` `bad_request` from the server."""
    user, token = server.new_user("refused")
    c = await server.connect(token)
    try:
        for case, _, frame, _ in CLIENT_BAD_FRAMES:
            await c.send(frame if isinstance(frame, dict) else json.dumps(frame))
            err = await c.expect("error")
            assert err["code"] == "bad_request", f"{case}: {err}"
        await c.ping()
        assert not c.all("sent") and not c.all("synced") and not c.all("refreshed"), c.frames
    finally:
        await c.close()


async def test_the_server_accepts_what_the_client_schema_accepts(server):
    """Client frames at the edges of the schema are answered as the protocol says, never refused."""
    alice, alice_token = server.new_user("accepted")
    bob, _ = server.new_user("peer")
    c = await server.connect(alice_token)
    frames = [
        ({**SEND, "id": "e1", "to": bob, "client_ts": 1}, "sent"),
        ({**SEND, "id": "x" * 64, "to": bob}, "sent"),
        ({**SEND, "id": "e3", "to": alice}, "sent"),
        ({"type": "sync"}, "synced"),
        ({"type": "sync", "after": 2**64 - 1, "limit": 1000}, "synced"),
        ({"type": "refresh", "token": mint(alice), "reason": "renewal"}, "refreshed"),
        ({"type": "ping", "pad": "a" * 100}, "pong"),
    ]
    try:
        for frame, answer in frames:
            assert frame_schema.is_valid(frame, "client"), frame_schema.errors(frame, "client")
            await c.send(frame)
            await c.expect(answer, timeout=10)
        await c.send({"type": "typing", "to": bob, "extra": True})
        await c.ping()
        assert not c.all("error"), c.all("error")
    finally:
        await c.close()

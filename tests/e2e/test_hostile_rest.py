"""Hostile REST bodies: malformed JSON, wrong types, deep nesting, oversized bodies, SQL
metacharacters and unusual Unicode in names, and 20 concurrent creates of one name. Each refusal
is a clear 4xx with a JSON error and leaves no trace in the user list; what is accepted is stored
exactly; the server serves a healthy client meanwhile. Malformed basics are in test_rest_users.py."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import urllib.parse

import pytest

from conftest import unique_name
from hostile import assert_served, exchange, json_error, parse_responses, request

MIB = 1024 * 1024
NAME_RULE = '"username" must be 1-64 characters of [A-Za-z0-9_.-]'


@pytest.fixture(scope="module")
def healthy(server):
    _, token = server.new_user("healthy")
    return token


def all_users(server) -> list[str]:
    names, after = [], ""
    while True:
        r = server.api("GET", "/api/user/v1/list", params={"limit": 1000, "after": after})
        assert r.status_code == 200, r.text
        body = r.json()
        names += [u["username"] for u in body["users"]]
        if body["next"] is None:
            return names
        after = body["next"]


async def post_create(server, body: bytes, headers=None) -> tuple[int, dict, bytes]:
    responses = parse_responses(await exchange(
        server.port, request("POST", "/api/user/v1/create", body, headers=headers, close=True)))
    assert len(responses) == 1, responses
    return responses[0]


async def refused_without_trace(server, body: bytes, status: int, code: str, message: str | None = None) -> dict:
    before = all_users(server)
    response = await post_create(server, body)
    assert response[0] == status, (body[:120], response)
    error = json_error(response)
    assert error["code"] == code, error
    if message is not None:
        assert error["message"] == message, error
    assert all_users(server) == before, "a refused create left a row"
    return error


# ---- malformed JSON and wrong types

MALFORMED = [
    ("trailing-garbage", b'{"username":"NAME"}garbage'),
    ("two-documents", b'{"username":"NAME"}{"username":"NAME"}'),
    ("comment", b'{"username":"NAME" /* c */}'),
    ("trailing-comma", b'{"username":"NAME",}'),
    ("single-quotes", b"{'username':'NAME'}"),
    ("nan-literal", b'{"username":"NAME","n":NaN}'),
    ("control-character-in-a-string", b'{"username":"NAME\x01"}'),
    ("invalid-utf8", b'{"username":"NAME\xff"}'),
    ("overlong-utf8-slash", b'{"username":"NAME\xc0\xaf"}'),
    ("utf16", '{"username":"NAME"}'.encode("utf-16")),
    ("nul-after-the-object", b'{"username":"NAME"}\x00'),
    ("unterminated-string", b'{"username":"NAME'),
    ("key-without-quotes", b'{username:"NAME"}'),
]


@pytest.mark.parametrize("body", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
async def test_malformed_json_is_400_and_leaves_no_row(server, body):
    name = unique_name("malformed")
    await refused_without_trace(server, body.replace(b"NAME", name.encode()), 400, "bad_request",
                                "the body must be a JSON object")
    assert server.get_user(name).status_code == 404


WRONG_TYPES = [
    ("body-number", b"123", "the body must be a JSON object"),
    ("body-string", b'"NAME"', "the body must be a JSON object"),
    ("body-null", b"null", "the body must be a JSON object"),
    ("body-true", b"true", "the body must be a JSON object"),
    ("body-array", b'[{"username":"NAME"}]', "the body must be a JSON object"),
    ("username-integer", b'{"username":123}', '"username" must be a string'),
    ("username-float", b'{"username":1.5}', '"username" must be a string'),
    ("username-huge-number", b'{"username":1e400}', '"username" must be a string'),
    ("username-true", b'{"username":true}', '"username" must be a string'),
    ("username-null", b'{"username":null}', '"username" must be a string'),
    ("username-array", b'{"username":["NAME"]}', '"username" must be a string'),
    ("username-object", b'{"username":{"name":"NAME"}}', '"username" must be a string'),
    ("username-key-in-another-case", b'{"Username":"NAME"}', '"username" must be a string'),
]


@pytest.mark.parametrize("body,message", [w[1:] for w in WRONG_TYPES], ids=[w[0] for w in WRONG_TYPES])
async def test_a_wrongly_typed_body_is_400_and_leaves_no_row(server, body, message):
    name = unique_name("typed")
    await refused_without_trace(server, body.replace(b"NAME", name.encode()), 400, "bad_request", message)


async def test_a_duplicated_username_member_takes_the_last_one(server):
    # Documented (docs/protocol.md §3.2): a body is the caller's own request, so a repeated member
    # is not refused as in a token; the last one wins, as in most JSON parsers.
    first, last = unique_name("first"), unique_name("last")
    response = await post_create(server, f'{{"username":"{first}","username":"{last}"}}'.encode())
    assert response[0] == 201, response
    assert json.loads(response[2])["username"] == last
    assert server.get_user(first).status_code == 404


# ---- nesting and size

def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


NESTED = [
    # id, body, status, code: 64 KiB bodies, so deeper nesting is refused for its size first
    ("nested-32000-deep-closed", b'{"username":"NAME","x":' + nested(32000) + b"}", 400, "bad_request"),
    ("nested-65000-deep-unclosed", b'{"username":"NAME","x":' + b"[" * 65000, 400, "bad_request"),
    ("objects-nested-10000-deep", b'{"username":"NAME","x":' + b'{"a":' * 10000 + b"1" + b"}" * 10001,
     400, "bad_request"),
    ("nested-100000-deep", b'{"username":"NAME","x":' + nested(100000) + b"}", 413, "too_large"),
    ("body-of-1-mib", json.dumps({"username": "NAME", "pad": "p" * MIB}).encode(), 413, "too_large"),
]


@pytest.mark.parametrize("body,status,code", [n[1:] for n in NESTED], ids=[n[0] for n in NESTED])
async def test_deep_or_oversized_bodies_are_refused_while_others_are_served(server, healthy, body, status, code):
    name = unique_name("deep")
    refusal = asyncio.create_task(
        refused_without_trace(server, body.replace(b"NAME", name.encode(), 1), status, code))
    await assert_served(server, healthy)
    await refusal
    assert server.get_user(name).status_code == 404


async def test_a_chunked_body_of_1_mib_is_413(server, healthy):
    name = unique_name("chunky")
    payload = json.dumps({"username": name, "pad": "p" * MIB}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 8192]), payload[i:i + 8192])
                      for i in range(0, len(payload), 8192)) + b"0\r\n\r\n"
    data = request("POST", "/api/user/v1/create", headers=[("Transfer-Encoding", "chunked")]) + chunks
    responses = parse_responses(await exchange(server.port, data))
    assert [r[0] for r in responses] == [413], responses
    assert server.get_user(name).status_code == 404
    await assert_served(server, healthy)


async def test_a_websocket_frame_nested_100000_deep_is_refused_and_the_connection_stays_open(start_server):
    # The same parser behind a larger limit: a 200 KB frame of nesting is refused as bad_request.
    s = start_server(args=["--max-message-bytes", str(MIB)])
    name, token = s.new_user("deepws")
    client = await s.connect(token)
    await client.send('{"type":"send","id":"d1","to":"' + name + '","body":' + nested(100000).decode() + "}")
    await client.expect_error("bad_request")
    await client.send({"type": "send", "id": "d2", "to": name, "body": "after"})
    await client.sent("d2")
    await client.close()


# ---- names: SQL metacharacters and unusual Unicode

REFUSED_NAMES = [
    ("sql-drop-table", "x'; DROP TABLE users; --"),
    ("sql-or-true", "a' OR '1'='1"),
    ("sql-double-quotes", 'a" OR "1"="1'),
    ("sql-comment", "a--/*"),
    ("sql-like-wildcard", "a%"),
    ("semicolon", "a;b"),
    ("backslash", "a\\b"),
    ("slash", "a/b"),
    ("space", "a b"),
    ("nul", "a\u0000b"),
    ("right-to-left-override", "\u202eabc"),
    ("zero-width-joiner", "a\u200db"),
    ("zero-width-space", "ab\u200b"),
    ("fullwidth-letters", "\uff41\uff42"),
    ("cyrillic-lookalike", "\u0430dmin"),
    ("combining-accent", "e\u0301"),
    ("precomposed-accent", "\u00e9"),
    ("emoji", "\U0001F600"),
    ("lone-surrogate", "\ud800"),
    ("65-characters", "x" * 65),
    ("10000-characters", "y" * 10000),
    ("empty", ""),
]


@pytest.mark.parametrize("name", [n[1] for n in REFUSED_NAMES], ids=[n[0] for n in REFUSED_NAMES])
async def test_a_name_outside_the_rules_is_400_and_leaves_no_trace(server, name):
    body = json.dumps({"username": name}).encode()  # non-ASCII as \\u escapes, a lone surrogate too
    # A lone surrogate is not valid JSON text at all; everything else breaks the name rule.
    message = "the body must be a JSON object" if name == "\ud800" else NAME_RULE
    await refused_without_trace(server, body, 400, "bad_request", message)
    raw = json.dumps({"username": name}, ensure_ascii=False).encode("utf-8", "surrogatepass")
    await refused_without_trace(server, raw, 400, "bad_request")


STORED_NAMES = ["--", "__", "..", ".", "-", "_", "0", "a.-_Z9", "DROP", "SELECT", "NULL", "null",
                "undefined", "1e5", "0x10", "z" * 64]


@pytest.mark.parametrize("name", STORED_NAMES)
async def test_an_unusual_but_valid_name_is_stored_exactly(server, name):
    response = await post_create(server, json.dumps({"username": name}).encode())
    assert response[0] == 201, response
    assert json.loads(response[2])["username"] == name
    # Read back on a raw connection, so that no client library rewrites "." or ".." in the path.
    responses = parse_responses(await exchange(server.port, request("GET", f"/api/user/v1/{name}", close=True)))
    assert responses[0][0] == 200, responses
    assert json.loads(responses[0][2])["username"] == name
    assert all_users(server).count(name) == 1


# ---- concurrent creates of one name


def create_concurrently(port: int, name: str, n: int) -> list[int]:
    """n creates of one name, each on its own connection, released together."""
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()
    body = json.dumps({"username": name})

    def one():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.connect()
        barrier.wait()
        conn.request("POST", "/api/user/v1/create", body)
        status = conn.getresponse().status
        conn.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.mark.parametrize("round_", range(3))
async def test_twenty_concurrent_creates_of_one_name_make_exactly_one_user(server, healthy, round_):
    name = unique_name("race")
    racing = asyncio.create_task(asyncio.to_thread(create_concurrently, server.port, name, 20))
    await assert_served(server, healthy)
    statuses = await racing
    assert sorted(statuses) == [201] + [409] * 19, statuses
    assert all_users(server).count(name) == 1
    assert server.get_user(urllib.parse.quote(name)).status_code == 200

"""HTTP abuse on raw sockets: floods, oversized heads, slowloris, handshakes that never finish,
pipelining, HTTP/1.0 upgrades and bad WebSocket upgrade headers. Each gets a clear 4xx (or, for a
client too slow to finish its request, a closed connection), never a 5xx, and the server goes on
serving a healthy client meanwhile."""

from __future__ import annotations

import asyncio
import json

import pytest

from conftest import unique_name
from hostile import (
    WS_KEY, assert_served, exchange, json_error, parse_responses, read_to_eof, request, upgrade_request,
)

MIB = 1024 * 1024
HANDSHAKE_TIMEOUT = 1.0  # --handshake-timeout of the server these tests start


@pytest.fixture(scope="module")
def healthy(server):
    """A token of an existing user, for the healthy client."""
    _, token = server.new_user("healthy")
    return token


# ---- malformed and oversized requests: status, JSON error, connection closed

BAD_REQUESTS = [
    # id, bytes, status, error code
    ("10000-headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-Flood-%d: v\r\n" % i for i in range(10000)) + b"\r\n", 431, "too_large"),
    ("one-header-of-1-mib", b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * MIB + b"\r\n\r\n", 431, "too_large"),
    ("request-line-of-1-mib", b"GET /" + b"a" * MIB + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431, "too_large"),
    ("ws-query-of-1-mib", b"GET /ws?token=" + b"a" * MIB + b" HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 431,
     "too_large"),
    ("method-of-1-mib", b"A" * MIB + b" / HTTP/1.1\r\n\r\n", 431, "too_large"),
    ("declared-body-of-100-mib", b"POST /api/user/v1/create HTTP/1.1\r\nContent-Length: 104857600\r\n\r\n",
     413, "too_large"),
    ("tls-client-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(100), 400, "bad_request"),
    ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request"),
    ("http-0.9", b"GET /healthz\r\n\r\n", 400, "bad_request"),
    ("bare-lf-line-ends", b"GET /healthz HTTP/1.1\nHost: x\n\n", 400, "bad_request"),
    ("nul-in-the-target", b"GET /\x00 HTTP/1.1\r\n\r\n", 400, "bad_request"),
    ("content-length-and-chunked", b"POST /api/user/v1/create HTTP/1.1\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad_request"),
    ("two-content-lengths", b"POST /api/user/v1/create HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
     400, "bad_request"),
    ("negative-content-length", b"POST /api/user/v1/create HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400,
     "bad_request"),
    ("content-length-over-64-bits", b"POST /api/user/v1/create HTTP/1.1\r\nContent-Length: "
     + b"9" * 30 + b"\r\n\r\n", 400, "bad_request"),
    ("chunk-size-over-64-bits", b"POST /api/user/v1/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"f" * 30 + b"\r\n", 400, "bad_request"),
    ("header-without-a-colon", b"GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n", 400, "bad_request"),
    ("space-before-the-colon", b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400, "bad_request"),
]


@pytest.mark.parametrize("data,status,code", [r[1:] for r in BAD_REQUESTS], ids=[r[0] for r in BAD_REQUESTS])
async def test_a_malformed_or_oversized_request_gets_a_4xx_and_the_connection_is_closed(
        server, healthy, data, status, code):
    abuse = asyncio.create_task(exchange(server.port, data))
    await assert_served(server, healthy)
    responses = parse_responses(await abuse)  # exchange fails unless the server closes the connection
    assert [r[0] for r in responses] == [status], responses
    assert json_error(responses[0])["code"] == code
    assert responses[0][1].get("connection") == "close"


async def test_many_small_headers_under_the_limit_are_served(server):
    data = b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(2000)) \
        + b"Connection: close\r\n\r\n"
    assert len(data) < 32 * 1024
    assert [r[0] for r in parse_responses(await exchange(server.port, data))] == [200]


# ---- slowloris and handshakes that never finish


@pytest.fixture
def slow_server(start_server):
    s = start_server(args=["--handshake-timeout", str(HANDSHAKE_TIMEOUT)])
    _, token = s.new_user("healthy")
    return s, token


async def trickle(port: int, head: bytes, interval: float) -> bytes:
    """Sends `head` a byte at a time, every `interval` s, until the server closes; what it said."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    closed = asyncio.create_task(read_to_eof(reader, timeout=60))
    try:
        for i in range(len(head)):
            if closed.done():
                break
            writer.write(head[i:i + 1])
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([closed], timeout=interval)  # pacing of the attack; ends early on close
        else:
            raise AssertionError("the whole request went through a byte at a time: no time-out applied")
        return await closed
    finally:
        writer.close()


async def test_slowloris_connections_are_closed_by_the_request_time_out_while_others_are_served(slow_server):
    s, token = slow_server
    # A byte every 0.1 s: the whole head would take 40 s, far beyond the 1 s time-out, which
    # therefore has to bound the request as a whole, not the gap between bytes.
    head = b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 400 + b"\r\n\r\n"
    loris = [asyncio.create_task(trickle(s.port, head, 0.1)) for _ in range(50)]
    await assert_served(s, token)
    said = await asyncio.gather(*loris)
    for data in said:
        assert not data.startswith(b"HTTP/1.1 2"), data[:100]
    await assert_served(s, token)


UNFINISHED = [
    ("silent", b""),
    ("request-line-only", b"GET /healthz HTTP/1.1\r\n"),
    ("upgrade-without-the-final-crlf", upgrade_request()[:-2]),
    ("body-shorter-than-its-content-length",
     b"POST /api/user/v1/create HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"username\":"),
    ("chunked-body-never-ended", b"POST /api/user/v1/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\n{\"use\r\n"),
]


@pytest.mark.parametrize("data", [u[1] for u in UNFINISHED], ids=[u[0] for u in UNFINISHED])
async def test_requests_that_never_finish_are_dropped_and_others_are_served(slow_server, data):
    s, token = slow_server
    conns = []
    for _ in range(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(data)
        conns.append((reader, writer))
    await assert_served(s, token)
    for reader, writer in conns:
        said = await read_to_eof(reader, timeout=10 * HANDSHAKE_TIMEOUT + 5)
        assert not said.startswith(b"HTTP/1.1 101") and not said.startswith(b"HTTP/1.1 2"), said[:100]
        writer.close()
    await assert_served(s, token)


async def test_a_client_that_half_closes_before_sending_is_dropped(server, healthy):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write_eof()
    assert await read_to_eof(reader, timeout=10) == b""
    writer.close()
    await assert_served(server, healthy)


# ---- pipelining: every request answered, in order


async def test_two_pipelined_requests_are_both_answered_in_order(server):
    name = unique_name("pipe")
    data = request("POST", "/api/user/v1/create", json.dumps({"username": name}).encode()) \
        + request("GET", f"/api/user/v1/{name}", close=True)
    responses = parse_responses(await exchange(server.port, data))
    assert [r[0] for r in responses] == [201, 200], responses
    assert json.loads(responses[1][2])["username"] == name


async def test_a_hundred_pipelined_requests_are_answered_in_order(server):
    names = [unique_name("absent") for _ in range(100)]
    data = b"".join(request("GET", f"/api/user/v1/{n}", close=(i == 99)) for i, n in enumerate(names))
    responses = parse_responses(await exchange(server.port, data))
    assert [r[0] for r in responses] == [404] * 100
    assert [json_error(r)["message"] for r in responses] == [f"no such user: {n}" for n in names]


async def test_a_pipelined_request_after_connection_close_is_not_answered(server):
    name = unique_name("after_close")
    data = request("GET", "/healthz", close=True) \
        + request("POST", "/api/user/v1/create", json.dumps({"username": name}).encode())
    responses = parse_responses(await exchange(server.port, data))
    assert [r[0] for r in responses] == [200], responses
    assert server.get_user(name).status_code == 404, "the request after Connection: close was executed"


async def test_a_malformed_request_after_a_good_one_ends_the_pipeline_after_answering_both(server):
    data = request("GET", "/healthz") + b"NOT HTTP AT ALL\r\n\r\n" + request("GET", "/healthz")
    responses = parse_responses(await exchange(server.port, data))
    assert [r[0] for r in responses] == [200, 400], responses


async def test_a_rest_request_then_an_upgrade_in_one_write_are_both_served(server):
    name, token = server.new_user("pipews")
    data = request("GET", f"/api/user/v1/{name}") + upgrade_request("/ws", token)
    responses = parse_responses(await exchange(server.port, data))
    assert [r[0] for r in responses] == [200, 101], responses


# ---- HTTP/1.0 and bad upgrade headers


async def test_an_http_1_0_upgrade_is_refused_with_426(server):
    _, token = server.new_user("http10")
    responses = parse_responses(await exchange(server.port, upgrade_request("/ws", token, version="HTTP/1.0")))
    assert [r[0] for r in responses] == [426], responses
    assert json_error(responses[0])["code"] == "bad_request"


async def test_an_http_1_0_request_is_answered_and_closed(server):
    responses = parse_responses(await exchange(server.port, b"GET /healthz HTTP/1.0\r\n\r\n"))
    assert [r[0] for r in responses] == [200], responses


UPGRADE = ("Upgrade", "websocket")
CONNECTION = ("Connection", "Upgrade")
KEY = ("Sec-WebSocket-Key", WS_KEY)
VERSION = ("Sec-WebSocket-Version", "13")

BAD_UPGRADES = [
    # id, headers, status. The Sec-WebSocket-Key's base64 checks have raw-byte tests of their own.
    ("version-missing", [UPGRADE, CONNECTION, KEY], 426),
    ("version-8", [UPGRADE, CONNECTION, KEY, ("Sec-WebSocket-Version", "8")], 426),
    ("version-12", [UPGRADE, CONNECTION, KEY, ("Sec-WebSocket-Version", "12")], 426),
    ("version-14", [UPGRADE, CONNECTION, KEY, ("Sec-WebSocket-Version", "14")], 426),
    ("version-list", [UPGRADE, CONNECTION, KEY, ("Sec-WebSocket-Version", "13, 8")], 426),
    ("version-text", [UPGRADE, CONNECTION, KEY, ("Sec-WebSocket-Version", "abc")], 426),
    ("version-empty", [UPGRADE, CONNECTION, KEY, ("Sec-WebSocket-Version", "")], 426),
    ("key-missing", [UPGRADE, CONNECTION, VERSION], 400),
    ("upgrade-to-another-protocol", [("Upgrade", "h2c"), CONNECTION, KEY, VERSION], 426),
    ("upgrade-header-missing", [CONNECTION, KEY, VERSION], 426),
    ("connection-without-upgrade", [UPGRADE, ("Connection", "keep-alive"), KEY, VERSION], 426),
]


@pytest.mark.parametrize("row", [r[0] for r in BAD_UPGRADES])
async def test_a_bad_upgrade_request_gets_a_json_4xx_and_takes_no_connection_slot(server, row):
    _, headers, status = next(r for r in BAD_UPGRADES if r[0] == row)
    name, token = server.new_user("badup")
    # One more than the 32 connections a user may hold: a refusal that kept a slot would show.
    for _ in range(33):
        data = await exchange(server.port, upgrade_request("/ws", token, headers=headers), responses=1)
        responses = parse_responses(data)
        assert [r[0] for r in responses] == [status], responses
        json_error(responses[0])
        if row.startswith("version-"):  # RFC 6455 4.4: the refusal names the version spoken
            assert responses[0][1].get("sec-websocket-version") == "13", responses[0][1]
    assert server.get_user(name).json()["connections"] == 0
    await assert_served(server, token)


async def test_a_post_with_upgrade_headers_is_refused_with_426(server):
    _, token = server.new_user("postup")
    responses = parse_responses(await exchange(server.port, upgrade_request("/ws", token, method="POST"),
                                               responses=1))
    assert [r[0] for r in responses] == [426], responses


async def test_upgrade_header_values_are_matched_without_regard_to_case(server):
    _, token = server.new_user("caseup")
    headers = [("Upgrade", "WebSocket"), ("Connection", "keep-alive, UPGRADE"), KEY, VERSION]
    responses = parse_responses(await exchange(server.port, upgrade_request("/ws", token, headers=headers)))
    assert [r[0] for r in responses] == [101], responses

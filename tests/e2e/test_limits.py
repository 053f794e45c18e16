"""Limits and time-outs (issue 2, sections 4 and 6): message size, send rate, outbound queue, token
expiry, idle and handshake time-outs."""

import asyncio
import socket
import time

import pytest
import requests

from conftest import close_all, mint
from hostile import upgrade_request


# ---- message size


async def test_frame_over_the_default_64_kib_is_closed_with_1009(server):
    name, token = server.new_user("big")
    client = await server.connect(token)
    await client.send_message("huge", name, "x" * (64 * 1024 + 1))
    assert await client.wait_closed() == 1009
    assert client.all("sent") == []
    # Nothing was stored.
    again = await server.connect(token)
    assert again.hello["last_seq"] == 0
    await again.close()


async def test_frame_over_max_message_bytes_is_closed_with_1009(start_server):
    s = start_server(args=["--max-message-bytes", "1024"])
    name, token = s.new_user("big")
    ok = await s.connect(token)
    await ok.send_message("fits", name, "y" * 900)
    await ok.sent("fits")
    too_big = await s.connect(token)
    await too_big.send_message("too-big", name, "z" * 1100)
    assert await too_big.wait_closed() == 1009
    await ok.ping()  # the other connection is unaffected
    await ok.close()


# ---- send rate


async def test_send_rate_limit_refuses_with_rate_limited_then_recovers(start_server):
    s = start_server(args=["--send-rate", "2", "--send-burst", "3"])
    a, a_token = s.new_user("rate")
    b, b_token = s.new_user("rate")
    client = await s.connect(a_token)
    n = 12
    for i in range(n):  # far faster than 2/s: the bucket of 3 runs dry
        await client.send_message(f"r{i}", b, f"burst {i}")
    outcomes = [await client.outcome(f"r{i}") for i in range(n)]
    accepted = [o for o in outcomes if o["type"] == "sent"]
    refused = [o for o in outcomes if o["type"] == "error"]
    assert all(o["code"] == "rate_limited" for o in refused), refused
    assert 3 <= len(accepted) < n, outcomes
    assert refused, "no send was rate limited"
    assert [o["seq"] for o in accepted] == list(range(1, len(accepted) + 1)), "refused sends took no seq"

    # Tokens refill at 2/s: retrying the refused send succeeds within a bounded number of tries.
    retry_id = refused[0]["id"]
    deadline = time.monotonic() + 10
    while True:
        await client.send_message(retry_id, b, "retried")
        outcome = await client.outcome(retry_id)
        if outcome["type"] == "sent":
            break
        assert outcome["code"] == "rate_limited", outcome
        assert time.monotonic() < deadline, "the send rate never recovered"
        await asyncio.sleep(0.1)  # retry interval of a bounded wait for the bucket to refill
    assert outcome["seq"] == len(accepted) + 1

    # The recipient has exactly the accepted messages.
    reader = await s.connect(b_token)
    entries = await reader.sync_all()
    assert len(entries) == len(accepted) + 1
    await close_all(client, reader)


async def test_default_send_rate_refuses_past_a_burst_of_100(server):
    a, token = server.new_user("rdef")
    client = await server.connect(token)
    n = 160
    for i in range(n):
        await client.send_message(f"d{i}", a, "x")
    outcomes = [await client.outcome(f"d{i}", timeout=15) for i in range(n)]
    accepted = sum(o["type"] == "sent" for o in outcomes)
    assert all(o["code"] == "rate_limited" for o in outcomes if o["type"] == "error")
    assert 100 <= accepted < n, accepted
    await client.close()


async def test_typing_counts_against_the_send_rate(start_server):
    s = start_server(args=["--send-rate", "1", "--send-burst", "2"])
    _, a_token = s.new_user("rtyp")
    b, _ = s.new_user("rtyp")
    client = await s.connect(a_token)
    for _ in range(6):
        await client.send({"type": "typing", "to": b})
    await client.expect_error("rate_limited")
    await client.ping()  # ping is not rate limited and the connection stays open
    await client.close()


async def test_rate_limit_is_per_connection(start_server):
    s = start_server(args=["--send-rate", "1", "--send-burst", "2"])
    a, a_token = s.new_user("rconn")
    first = await s.connect(a_token)
    for i in range(4):
        await first.send_message(f"f{i}", a, "x")
    await first.expect_error("rate_limited")
    second = await s.connect(a_token)
    await second.send_message("other-conn", a, "x")
    await second.sent("other-conn")
    await close_all(first, second)


# ---- outbound queue cap: test_faults_under_load.py (a reader that stops reading during a flood)


# ---- token expiry and refresh


async def test_connection_is_closed_with_4001_when_the_token_expires(start_server):
    s = start_server(args=["--jwt-leeway", "0"])
    name, _ = s.new_user("exp")
    token = mint(name, ttl=2)
    client = await s.connect(token)
    assert await client.wait_closed(timeout=15) == 4001


async def test_refresh_keeps_the_connection_past_the_first_tokens_expiry(start_server):
    s = start_server(args=["--jwt-leeway", "0"])
    name, _ = s.new_user("exp")
    short = mint(name, ttl=2)
    refreshed = await s.connect(short)
    control = await s.connect(short)
    await refreshed.send({"type": "refresh", "token": mint(name, ttl=3600)})
    await refreshed.expect("refreshed")
    # The control connection, with the same expiry, is closed when it passes; by then the refreshed
    # connection's original deadline has passed too.
    assert await control.wait_closed(timeout=15) == 4001
    await refreshed.ping()
    assert not refreshed.closed.is_set()
    await refreshed.close()


@pytest.mark.parametrize("exp", [9223372036854775807, 1e300, 2**64], ids=["int64-max", "1e300", "2^64"])
async def test_a_token_that_expires_at_the_end_of_time_keeps_working_and_refreshes(server, exp):
    # Such an exp once overflowed the expiry timer's arithmetic (undefined behaviour in C++).
    name, _ = server.new_user("forever")
    client = await server.connect(mint(name, exp=exp))
    await client.send({"type": "refresh", "token": mint(name, exp=exp)})
    await client.expect("refreshed")
    await client.send({"type": "send", "id": "f1", "to": name, "body": "still here"})
    await client.expect("sent")
    await client.ping()
    assert not client.closed.is_set()
    await client.close()


# ---- idle and handshake time-outs


def raw_upgrade(port: int, token: str) -> socket.socket:
    """A WebSocket handshake by hand, leaving a socket that never answers a ping."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(upgrade_request(token=token))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:200]
    return sock


def read_until_eof(sock: socket.socket, timeout: float) -> bytes:
    """Reads everything until the peer closes; fails if it does not within `timeout`."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"the server did not close the connection within {timeout}s") from None
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


async def test_connection_that_does_not_answer_pings_is_closed(start_server):
    s = start_server(args=["--ping-interval", "0.3", "--idle-timeout", "1.5"])
    _, token = s.new_user("idle")
    answering = await s.connect(token)  # websockets answers pings by itself
    silent = raw_upgrade(s.port, token)
    data = await asyncio.to_thread(read_until_eof, silent, 15)
    silent.close()
    assert b"\x89" in data, "the server sent no WebSocket ping before closing the silent connection"
    # An unmasked close frame: 0x88, length, code 1001, reason.
    assert b"\x88\x0e\x03\xe9idle timeout" in data, "no close 1001 'idle timeout' before the drop"
    # The connection that answered pings has been idle as long, and is still open.
    await answering.ping()
    assert not answering.closed.is_set()
    await answering.close()


@pytest.mark.parametrize("partial", [b"", b"GET /ws HTTP/1.1\r\nHost: x\r\n"], ids=["silent", "partial-request"])
async def test_handshake_timeout_closes_a_connection_that_never_finishes(start_server, partial):
    s = start_server(args=["--handshake-timeout", "0.5"])
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    if partial:
        sock.sendall(partial)
    data = await asyncio.to_thread(read_until_eof, sock, 10)
    sock.close()
    assert b"101" not in data.split(b"\r\n", 1)[0]
    # The server still serves: asked on a fresh connection, since with a 0.5 s handshake time-out
    # the server closes the shared session's idle keep-alive connection just as it would be reused.
    fresh = requests.Session()
    fresh.trust_env = False
    assert fresh.get(s.url("/healthz"), timeout=10).status_code == 200

"""Faults under load (the hardening issue, §5): a reader that stops reading during a flood, a peer
that resets in the middle of a frame, ten times the per-user connection limit at once, and the disk
full under the store. (kill -9 under load, 20 rounds on one data directory, is in test_lifecycle.py.)

Every test prints its figure (`-s` shows them); docs/reliability.md ("Faults under load") records
them. Speed is never asserted: memory is bounded by a structural limit derived from the
configuration, and latencies are only printed."""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import os
import socket
import statistics
import struct
import subprocess
import time

import pytest
from websockets.exceptions import InvalidStatus

from conftest import SANITIZED, close_all, metric, open_ws, wait_until
from hostile import upgrade_request

FAST = ["--send-rate", "100000", "--send-burst", "100000"]
MIB = 1 << 20


# --------------------------------------------------------------------------------------------------
# helpers


def proc_status_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/<pid>/status (VmRSS, VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def masked_text_frame(payload: bytes, key: bytes = b"\x11\x22\x33\x44") -> bytes:
    """One client-to-server WebSocket text frame (FIN, masked), as RFC 6455 §5.2 lays it out."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def upgrade(port: int, token: str, rcvbuf: int | None = None) -> socket.socket:
    """A WebSocket handshake by hand over a plain socket (optionally with a small receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(upgrade_request(token=token))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: what follows the head is the server's first frame
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:200]
    return sock


def tcp_queues(local_port: int, remote_port: int) -> tuple[int, int] | None:
    """(tx_queue, rx_queue) of the loopback socket local_port -> remote_port, from /proc/net/tcp:
    bytes sent and not yet acknowledged by the peer, and bytes received and not yet read."""
    local, remote = f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


def server_read_everything(server_port: int, client: socket.socket) -> bool:
    """The server's kernel acknowledged all the client sent, and the server process read it."""
    client_port = client.getsockname()[1]
    return tcp_queues(client_port, server_port)[0] == 0 and tcp_queues(server_port, client_port)[1] == 0


def reset(sock: socket.socket) -> None:
    """Closes with an RST instead of a FIN: SO_LINGER on with a zero time-out."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def connections_of(s, name: str) -> int:
    r = s.get_user(name)
    assert r.status_code == 200, r.text
    return r.json()["connections"]


def gauge(s, name: str) -> float:
    return metric(s.metrics(), name)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def round_trips(probe_from, probe_to, to_name: str, tag: str, stop: asyncio.Event, limit: int = 200):
    """Message round trips between two other clients (send -> recipient's `message`), in ms, until
    `stop` is set or `limit` were measured."""
    loop = asyncio.get_running_loop()
    times = []
    for k in range(limit):
        if stop.is_set():
            break
        cid = f"{tag}-{k}"
        started = loop.time()
        await probe_from.send_message(cid, to_name, cid)
        await probe_to.expect("message", lambda f, cid=cid: f["body"] == cid, timeout=30)
        times.append((loop.time() - started) * 1000)
        await probe_from.sent(cid, timeout=30)
        probe_from.forget()  # each round trip scans only its own frames
        probe_to.forget()
    return times


async def flood(sender, to: str, total_bytes: int, body: str, tag: str) -> int:
    """Sends `total_bytes` of messages to `to`, 8 unacknowledged at a time; returns the count."""
    sent = 0
    while sent * len(body) < total_bytes:
        batch = [f"{tag}{sent + i}" for i in range(8)]
        for cid in batch:
            await sender.send_message(cid, to, body)
        for cid in batch:
            await sender.sent(cid, timeout=30)
        sent += len(batch)
        sender.forget()  # keep the client's memory flat; the acks were checked above
    return sent


# --------------------------------------------------------------------------------------------------
# a reader that stops reading during a flood


async def test_reader_that_stops_reading_during_a_flood_is_closed_with_4008_in_bounded_memory_and_loses_nothing(
        start_server):
    cap = 256 * 1024
    s = start_server(args=["--max-outbound-bytes", str(cap), *FAST])
    a, a_token = s.new_user("flood")
    b, b_token = s.new_user("slow")
    p, p_token = s.new_user("probe")
    q, q_token = s.new_user("probe")
    sender = await s.connect(a_token)
    probe_from, probe_to = await s.connect(p_token), await s.connect(q_token)
    # 16 KiB messages, 8 outstanding: the sender's own queue (acks and carbons) stays below the cap,
    # while a reader that does not read falls ever further behind. The server's socket send buffer
    # grows to at most net.ipv4.tcp_wmem's maximum (4 MiB here) before its queue must hold the rest,
    # so 8 MiB in all is more than enough; the server does not report the close before the reader
    # drains (the close frame waits behind the data), so there is no earlier event to stop at.
    body = os.urandom(8 * 1024).hex()
    total = 8 * MIB

    async def measured_flood(tag: str) -> tuple[int, list[float]]:
        stop = asyncio.Event()
        probe = asyncio.ensure_future(round_trips(probe_from, probe_to, q, tag + "p", stop, limit=10_000))
        try:
            count = await flood(sender, b, total, body, tag)
        finally:
            stop.set()
        return count, await probe

    # The same flood twice: first to a reader that reads, then to one that stops reading.
    idle_times = await round_trips(probe_from, probe_to, q, "idle", asyncio.Event(), limit=100)
    reader = await s.connect(b_token)
    sent_reading, reading_times = await measured_flood("r")
    await reader.close()

    # The slow reader: a small receive buffer and a client that reads nothing once connected.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", s.port))
    slow = await open_ws(s, b_token, sock=sock, max_queue=1)
    closes_before = metric(s.metrics(), "chat_slow_consumer_closes_total")
    with open(f"/proc/{s.proc.pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS: the peak below is this flood's
    rss_before = proc_status_kib(s.proc.pid, "VmRSS")
    sent_stalled, stalled_times = await measured_flood("o")
    peak = proc_status_kib(s.proc.pid, "VmHWM")

    # Read what the server managed to send, up to its close frame.
    received = 0
    code = None
    try:
        while True:
            await asyncio.wait_for(slow.recv(), 20)
            received += 1
    except Exception:
        code = slow.close_code
    assert code == 4008, f"slow reader closed with {code} after {received} frames, {sent_stalled} messages sent"
    assert received - 1 < sent_stalled, "the slow reader got every message: the cap never applied"  # 1: hello
    assert metric(s.metrics(), "chat_slow_consumer_closes_total") == closes_before + 1

    # Memory: what the flood may add is the store's own configured bound (three 32 MiB memtables and
    # a 64 MiB block cache) plus, per connection, its outbound cap and the frame being written.
    # The falsifiable form of this bound is the next test's (many stalled connections, no writes).
    connections = 4
    bound_kib = (3 * 32 + 64) * 1024 + connections * 2 * cap // 1024 + 32 * 1024
    growth = peak - rss_before
    print(
        f"\n[slow reader] flood of {total // MIB} MiB in 16 KiB messages, --max-outbound-bytes {cap}: "
        f"closed 4008 after {received - 1} of {sent_stalled} messages; server RSS {rss_before // 1024} MiB "
        f"before, peak {peak // 1024} MiB (+{growth // 1024} MiB, bound {bound_kib // 1024} MiB)\n"
        f"[slow reader] other clients' message round trip, ms (median / p99 / n): "
        f"idle {statistics.median(idle_times):.2f} / {percentile(idle_times, 0.99):.2f} / {len(idle_times)}; "
        f"flood to a reading client {statistics.median(reading_times):.2f} / "
        f"{percentile(reading_times, 0.99):.2f} / {len(reading_times)}; "
        f"flood to a stalled client {statistics.median(stalled_times):.2f} / "
        f"{percentile(stalled_times, 0.99):.2f} / {len(stalled_times)}"
    )
    if not SANITIZED:
        assert growth < bound_kib, f"server RSS grew by {growth} KiB during the flood (bound {bound_kib} KiB)"
    assert reading_times and stalled_times, "no round trip measured during a flood"

    # Nothing is lost: it reconnects and syncs.
    again = await s.connect(b_token)
    assert again.hello["last_seq"] == sent_reading + sent_stalled
    entries = await again.sync_all(sent_reading, limit=1000, timeout=60)
    assert sorted(entries) == list(range(sent_reading + 1, sent_reading + sent_stalled + 1))
    await close_all(sender, again, probe_from, probe_to)


async def test_stalled_readers_hold_no_more_memory_than_their_outbound_caps(start_server):
    # Sixteen connections that stop reading and keep asking for a 2 MiB inbox: each answer is fresh
    # memory, so without the cap the server would hold 16 x 100 answers (about 800 MiB); with it,
    # each connection holds at most its cap and the answer being written, then is closed 4008.
    cap = 1 * MIB
    connections, requests_each = 16, 100
    s = start_server(args=["--max-outbound-bytes", str(cap), *FAST])
    a, a_token = s.new_user("fill")
    b, b_token = s.new_user("stall")
    sender = await s.connect(a_token)
    body = os.urandom(8 * 1024).hex()
    await flood(sender, b, 2 * MIB, body, "f")

    closes_before = metric(s.metrics(), "chat_slow_consumer_closes_total")
    with open(f"/proc/{s.proc.pid}/clear_refs", "w") as f:
        f.write("5")
    rss_before = proc_status_kib(s.proc.pid, "VmRSS")
    socks = []
    sync = masked_text_frame(json.dumps({"type": "sync", "after": 0, "limit": 1000}).encode())
    for _ in range(connections):
        sock = upgrade(s.port, b_token, rcvbuf=4096)
        sock.sendall(sync * requests_each)
        socks.append(sock)
    await wait_until(
        lambda: metric(s.metrics(), "chat_slow_consumer_closes_total") >= closes_before + connections,
        timeout=60, what=f"{connections} connections closed 4008",
    )
    peak = proc_status_kib(s.proc.pid, "VmHWM")
    bound_kib = (connections * 2 * cap + 64 * MIB + 32 * MIB) // 1024  # caps, block cache, slack
    growth = peak - rss_before
    print(
        f"\n[stalled readers] {connections} connections x {requests_each} syncs of a 2 MiB inbox, "
        f"--max-outbound-bytes {cap}: all closed 4008; server RSS {rss_before // 1024} MiB before, peak "
        f"{peak // 1024} MiB (+{growth // 1024} MiB, bound {bound_kib // 1024} MiB, "
        f"uncapped it would be ~{connections * requests_each * cap // 2 // MIB} MiB)"
    )
    if not SANITIZED:
        assert growth < bound_kib, f"server RSS grew by {growth} KiB (bound {bound_kib} KiB)"
    for sock in socks:
        reset(sock)
    await wait_until(lambda: connections_of(s, b) == 0, timeout=15, what="the stalled connections freed")
    assert s.running()
    await sender.ping()
    await sender.close()


# --------------------------------------------------------------------------------------------------
# a reset in the middle of a frame


async def test_a_reset_in_the_middle_of_a_frame_frees_the_connection_and_applies_nothing(start_server):
    s = start_server(args=FAST)
    a, a_token = s.new_user("rst")
    b, b_token = s.new_user("rst")
    p, p_token = s.new_user("other")
    recipient = await s.connect(b_token)
    other = await s.connect(p_token)
    open_before = gauge(s, "chat_connections")

    # Half of a send frame, then an RST.
    sock = upgrade(s.port, a_token)
    await wait_until(lambda: connections_of(s, a) == 1, timeout=10, what="the raw connection counted")
    frame = masked_text_frame(json.dumps({"type": "send", "id": "half", "to": b, "body": "x" * 500}).encode())
    sock.sendall(frame[: len(frame) // 2])
    # The server has read the half frame (its socket holds nothing unread) before the reset.
    await wait_until(lambda: server_read_everything(s.port, sock), timeout=10, what="the half frame read")
    reset(sock)
    reset_at = time.monotonic()

    # The server frees it: presence and the connection gauge are back where they were.
    await wait_until(lambda: connections_of(s, a) == 0, timeout=10, what="the reset connection freed")
    await wait_until(lambda: gauge(s, "chat_connections") == open_before, timeout=10, what="the gauge back")
    freed_in = time.monotonic() - reset_at
    assert s.get_user(a).json()["online"] is False

    # Nothing half-applied: the sender's next message takes seq 1 in both inboxes, and it is the
    # first the recipient sees.
    sender = await s.connect(a_token)
    assert sender.hello["last_seq"] == 0
    await sender.send_message("whole", b, "whole")
    assert (await sender.sent("whole"))["seq"] == 1
    delivered = await recipient.expect("message")
    assert (delivered["seq"], delivered["body"]) == (1, "whole"), delivered
    # Others unaffected.
    await other.ping()
    await close_all(sender, recipient, other)
    print(f"\n[reset mid-frame] RST after {len(frame) // 2} of a {len(frame)}-byte send frame: the connection "
          f"was freed (presence 0, gauge back) within {freed_in * 1000:.0f} ms; nothing stored, the next send took seq 1")


async def test_a_reset_in_the_middle_of_the_servers_write_frees_the_connection(start_server):
    s = start_server(args=FAST)
    a, a_token = s.new_user("rstw")
    b, b_token = s.new_user("rstw")
    p, p_token = s.new_user("other")
    sender = await s.connect(a_token)
    other = await s.connect(p_token)
    await flood(sender, b, 2 * MIB, os.urandom(8 * 1024).hex(), "w")  # 128 messages for b to sync
    open_before = gauge(s, "chat_connections")

    # b asks for its whole inbox (a 512 KiB answer: half the default outbound cap) over a small
    # receive buffer, reads the first bytes of it, and resets while the server is still writing.
    sock = upgrade(s.port, b_token, rcvbuf=4096)
    sock.sendall(masked_text_frame(json.dumps({"type": "sync", "after": 0, "limit": 1000}).encode()))
    got = b""
    while b'"seq":1,' not in got:  # the answer's first entry: the server is writing it
        chunk = sock.recv(4096)
        assert chunk, "closed before the answer"
        got += chunk
    reset(sock)
    reset_at = time.monotonic()

    await wait_until(lambda: connections_of(s, b) == 0, timeout=10, what="the reset connection freed")
    await wait_until(lambda: gauge(s, "chat_connections") == open_before, timeout=10, what="the gauge back")
    freed_in = time.monotonic() - reset_at
    assert s.running()
    # The user's next connection syncs everything; others are unaffected.
    again = await s.connect(b_token)
    entries = await again.sync_all(0, timeout=30)
    assert sorted(entries) == list(range(1, 129))
    await other.ping()
    await sender.send_message("after", b, "after")
    assert (await sender.sent("after"))["seq"] == 129
    await close_all(sender, other, again)
    print(f"\n[reset mid-write] RST after reading {len(got)} bytes of a 512 KiB sync answer: the connection "
          f"was freed within {freed_in * 1000:.0f} ms; the user's next connection synced all 128 entries")


# --------------------------------------------------------------------------------------------------
# ten times the per-user connection limit at once


async def test_ten_times_the_per_user_connection_limit_at_once_accepts_exactly_the_limit(start_server):
    limit = 4
    s = start_server(args=["--max-connections-per-user", str(limit)])
    users = [s.new_user("burst") for _ in range(2)]

    async def attempt(token):
        try:
            return await s.connect(token)
        except InvalidStatus as e:
            return e.response

    for round_ in range(2):  # the second round shows that the first left no slot taken
        started = time.monotonic()
        outcomes = await asyncio.gather(*(attempt(t) for _, t in users for _ in range(10 * limit)))
        elapsed = time.monotonic() - started
        assert s.running(), "the server died under the burst\n" + s.log_tail()
        for k, (name, _) in enumerate(users):
            mine = outcomes[k * 10 * limit:(k + 1) * 10 * limit]
            accepted = [o for o in mine if not hasattr(o, "status_code")]
            refused = [o for o in mine if hasattr(o, "status_code")]
            assert len(accepted) == limit, f"round {round_}: {len(accepted)} of {name}'s connections accepted"
            for r in refused:
                assert r.status_code == 429, (r.status_code, r.body)
                assert json.loads(r.body)["error"]["code"] == "rate_limited", r.body
            assert connections_of(s, name) == limit
            await asyncio.gather(*(c.ping() for c in accepted))
        assert gauge(s, "chat_connections") == limit * len(users)
        print(
            f"\n[connection burst] round {round_}: {10 * limit * len(users)} upgrades at once for "
            f"{len(users)} users, --max-connections-per-user {limit}: {limit} accepted and "
            f"{9 * limit} refused 429 each, in {elapsed * 1000:.0f} ms"
        )
        await close_all(*(o for o in outcomes if not hasattr(o, "status_code")))
        for name, _ in users:
            await wait_until(lambda name=name: connections_of(s, name) == 0, timeout=10, what=f"{name}'s count")
        await wait_until(lambda: gauge(s, "chat_connections") == 0, timeout=10, what="the gauge at 0")
        assert all(s.get_user(n).json()["online"] is False for n, _ in users)


# --------------------------------------------------------------------------------------------------
# the disk full under the store


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MiB tmpfs mounted on a temporary directory (needs root), unmounted afterwards.

    Ask for it before start_server, so that the servers stop before it is unmounted."""
    if os.geteuid() != 0:
        message = "mounting a size-limited tmpfs needs root"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set, so this fails the suite", pytrace=False)
        pytest.skip(message)
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(mount_point)],
                   check=True, capture_output=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False, capture_output=True)


def fill(path) -> int:
    """Writes a file until the file system is full (ENOSPC); returns its size."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (MIB, 4096, 1):
            block = b"\0" * chunk
            while True:
                try:
                    written += f.write(block)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    return written


async def test_a_full_disk_answers_unavailable_serves_reads_and_recovers_once_space_is_back(small_disk, start_server):
    s = start_server(args=FAST, data_dir=small_disk / "data")
    a, a_token = s.new_user("disk")
    b, b_token = s.new_user("disk")
    sa, rb = await s.connect(a_token), await s.connect(b_token)
    acked = {}
    for k in range(20):
        await sa.send_message(f"before{k}", b, f"before {k}")
        acked[f"before{k}"] = await sa.sent(f"before{k}")

    # Fill the disk, then send 48 KiB messages, 8 unacknowledged at a time, until the store says
    # unavailable: RocksDB preallocated the running log's space at its first write (about 35 MiB
    # here), so the first refusals come when the memtable is full and a new log and a table file
    # are needed; each write is either `sent` (and must be found later) or `unavailable`.
    filler = small_disk / "filler"
    filled = fill(filler)

    def body():  # incompressible, so that the tables RocksDB writes take the space the log took
        return base64.b64encode(os.urandom(36 * 1024)).decode()

    outcomes = {}

    async def outcome(cid):
        outcomes[cid] = await sa.outcome(cid, timeout=30)
        return outcomes[cid]

    # RocksDB gives back a log's unused preallocated space when the store reopens the database
    # after a failure, so a few sends may be stored after a refusal: go on until 16 in a row are
    # refused, when there is nothing left to give back.
    first_refusal = None
    in_a_row = 0
    k = 0
    while in_a_row < 16:
        assert k < 4000, "4000 sends of 48 KiB with the disk full and not 16 refused in a row"
        batch = [f"full{k + i}" for i in range(8)]
        for cid in batch:
            await sa.send_message(cid, b, body())
        for cid in batch:
            if (await outcome(cid))["type"] == "error":
                in_a_row += 1
                if first_refusal is None:
                    first_refusal = int(cid[4:])
            else:
                in_a_row = 0
        k += len(batch)
        sa.forget()
    refused = {cid: o for cid, o in outcomes.items() if o["type"] == "error"}
    acked.update({cid: o for cid, o in outcomes.items() if o["type"] == "sent"})
    assert all(o["code"] == "unavailable" for o in refused.values()), refused
    sent_after_first = len(outcomes) - first_refusal - len(refused)

    # The server stays up and serves reads: sync, history over REST, a new connection's hello.
    assert s.running()
    entries = await rb.sync_all(0, timeout=30)
    assert len(entries) == len(acked), (len(entries), len(acked))
    r = s.api("GET", f"/api/message/v1/history?with={a}&limit=2", headers={"Authorization": f"Bearer {b_token}"})
    assert r.status_code == 200, r.text
    assert [m["seq"] for m in r.json()["messages"]] == [len(acked), len(acked) - 1]
    reader = await s.connect(b_token)
    assert reader.hello["last_seq"] == len(acked)
    await reader.close()

    # Space is back: the refused sends, retried with the same ids, are stored.
    filler.unlink()
    started = time.monotonic()
    retried = 0
    for cid in refused:
        while True:
            await sa.send_message(cid, b, body())
            again = await outcome(cid)
            if again["type"] == "sent":
                acked[cid] = again
                break
            assert again["code"] == "unavailable", again
            assert time.monotonic() - started < 30, "sends never succeeded again after space came back"
            retried += 1
    recovered_in = time.monotonic() - started
    print(
        f"\n[disk full] 64 MiB tmpfs, {filled // MIB} MiB of filler: the first unavailable came at send "
        f"{first_refusal + 1} of 48 KiB (the log's preallocated space); of the {len(outcomes) - first_refusal} "
        f"sends from there, {len(refused)} were unavailable and {sent_after_first} sent (into space the reopened "
        f"store gave back), the last 16 all unavailable; reads served meanwhile; once the filler was removed, "
        f"the {len(refused)} refused sends, retried, were stored after {retried} more refusals "
        f"({recovered_in * 1000:.0f} ms)"
    )

    async def check(where: str):
        c = await s.connect(b_token)
        inbox = await c.sync_all(0, timeout=30)
        await c.close()
        assert sorted(inbox) == list(range(1, len(inbox) + 1)), f"{where}: b's seqs have a gap"
        by_msg_id = {m["msg_id"]: m for m in inbox.values()}
        assert len(by_msg_id) == len(inbox), f"{where}: a message twice in b's inbox"
        assert len(inbox) == len(acked), f"{where}: {len(inbox)} entries for {len(acked)} acknowledged sends"
        for cid, ack in acked.items():
            assert ack["msg_id"] in by_msg_id, f"{where}: acknowledged {cid} is missing"

    await check("after recovery")
    await close_all(sa, rb)
    assert s.terminate() == 0
    s.restart()
    await check("after a restart")

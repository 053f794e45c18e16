"""The server's life (issue 2, sections 3, 5 and 6): user deletion, SIGTERM/SIGINT, restart, kill -9
in the middle of a stream of sends, running out of file descriptors."""

import asyncio
import os
import random
import resource
import signal
import time

import pytest
import requests
from websockets.exceptions import InvalidStatus

from conftest import ASYNC_TEST_TIMEOUT, BINARY, SANITIZED, close_all, http, metric, open_ws, refused_status, wait_until

FAST = ["--send-rate", "100000", "--send-burst", "100000"]


# ---- DELETE closes live connections


async def test_delete_closes_every_live_connection_with_4003(server):
    a, a_token = server.new_user("dela")
    b, b_token = server.new_user("delb")
    b1, b2 = await server.connect(b_token), await server.connect(b_token)
    bystander = await server.connect(a_token)
    assert server.api("DELETE", f"/api/user/v1/{b}").status_code == 204
    assert await b1.wait_closed() == 4003
    assert await b2.wait_closed() == 4003
    # Other users are unaffected, and the deleted user is now an unknown recipient.
    await bystander.send_message("to-deleted", b, "anyone?")
    await bystander.expect_error("unknown_recipient", "to-deleted")
    status, _ = await refused_status(server, b_token)
    assert status == 403
    await bystander.close()


# ---- SIGTERM / SIGINT


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_closes_clients_with_1001_stops_readiness_and_exits_0(start_server, sig):
    s = start_server()
    _, token = s.new_user("term")
    clients = [await s.connect(token) for _ in range(3)]
    started = time.monotonic()
    s.proc.send_signal(sig)
    for c in clients:
        assert await c.wait_closed(timeout=10) == 1001

    # Not ready any more: 503 while draining, or no listener at all once it has stopped accepting.
    try:
        r = http().get(s.url("/readyz"), timeout=2)
        assert r.status_code == 503, r.status_code
    except requests.ConnectionError:
        pass
    # New WebSocket connections are refused.
    try:
        ws = await open_ws(s, token, open_timeout=3)
    except InvalidStatus as e:
        assert e.response.status_code == 503, e.response.status_code
    except Exception:
        pass  # no listener any more, or the connection was dropped: refused either way
    else:
        await ws.close()
        raise AssertionError("a WebSocket connection was accepted after the signal")

    code = await asyncio.to_thread(s.proc.wait, 10)
    assert code == 0, s.log_tail()
    assert time.monotonic() - started < 10


async def test_sigterm_exits_0_in_time_even_with_a_client_that_never_reads(start_server):
    from test_limits import raw_upgrade
    s = start_server(args=["--shutdown-timeout", "2"])
    _, token = s.new_user("stuck")
    stuck = raw_upgrade(s.port, token)  # completes the handshake, then never reads nor answers a close
    polite = await s.connect(token)
    s.proc.send_signal(signal.SIGTERM)
    assert await polite.wait_closed(timeout=10) == 1001
    assert await asyncio.to_thread(s.proc.wait, 10) == 0, s.log_tail()
    stuck.close()


async def test_sigterm_lets_in_flight_sends_finish_and_keeps_every_acknowledged_one(start_server):
    s = start_server(args=FAST)
    a, a_token = s.new_user("drain")
    b, b_token = s.new_user("drain")
    sender = await s.connect(a_token)
    n = 400
    for i in range(n):
        await sender.send_message(f"d{i}", b, f"drain {i}")
    await sender.expect("sent", timeout=10)  # the stream is under way
    s.proc.send_signal(signal.SIGTERM)
    assert await sender.wait_closed(timeout=10) == 1001
    assert await asyncio.to_thread(s.proc.wait, 10) == 0
    acks = {f["id"]: f for f in sender.all("sent")}
    assert acks

    s.restart()
    reader = await s.connect(b_token)
    entries = await reader.sync_all()
    by_msg = {m["msg_id"]: m for m in entries.values()}
    for cid, ack in acks.items():
        assert ack["msg_id"] in by_msg, f"acknowledged {cid} lost over SIGTERM"
    assert sorted(entries) == list(range(1, len(entries) + 1))
    await reader.close()


# ---- restart


async def test_restart_keeps_users_inboxes_and_idempotency(start_server):
    s = start_server()
    a, a_token = s.new_user("rsa")
    b, b_token = s.new_user("rsb")
    gone, _ = s.new_user("rsgone")
    sa = await s.connect(a_token)
    acks = []
    for i in range(5):
        await sa.send_message(f"k{i}", b, f"before restart {i}")
        acks.append(await sa.sent(f"k{i}"))
    await sa.close()
    assert s.api("DELETE", f"/api/user/v1/{gone}").status_code == 204
    created_at = s.get_user(a).json()["created_at"]
    assert s.terminate() == 0

    s.restart()
    assert s.get_user(a).json()["created_at"] == created_at
    assert s.get_user(b).status_code == 200
    assert s.get_user(gone).status_code == 404, "a deleted user stays deleted"

    rb = await s.connect(b_token)  # tokens minted before the restart still work
    assert rb.hello["last_seq"] == 5
    entries, synced = await rb.sync(0)
    assert [(m["seq"], m["msg_id"], m["body"]) for m in entries] == [
        (i + 1, acks[i]["msg_id"], f"before restart {i}") for i in range(5)
    ]
    sa = await s.connect(a_token)
    assert sa.hello["last_seq"] == 5
    await sa.send_message("k2", b, "before restart 2")  # a retry of an old id
    repeat = await sa.sent("k2")
    assert (repeat["seq"], repeat["msg_id"]) == (acks[2]["seq"], acks[2]["msg_id"])
    await sa.send_message("k5", b, "after restart")
    assert (await sa.sent("k5"))["seq"] == 6, "seqs continue without a gap"
    assert (await rb.expect("message", lambda f: f["body"] == "after restart"))["seq"] == 6
    await close_all(sa, rb)


# ---- kill -9 in the middle of a stream


KILL_ROUNDS = 20


def test_kill_9_mid_stream_loses_no_acknowledged_message(start_server):
    # One data directory, KILL_ROUNDS rounds of: four senders stream, kill -9 at a random point,
    # restart, and every message acknowledged in this round or any before it is found exactly once.
    # Each round runs in an event loop of its own under the async tests' time bound, so that the
    # bound holds per round however many rounds there are.
    seed = int(os.environ.get("E2E_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    s = start_server(args=FAST)
    senders = [s.new_user(f"k9s{i}") for i in range(4)]
    recipient, r_token = s.new_user("k9r")
    names = [n for n, _ in senders]
    per_sender = 300
    # Pipelined, but at most `window` sends of a sender unacknowledged: the server can never be far
    # ahead of the kill point, however fast it is, so the kill always lands mid-stream.
    window = 50

    def plan(cid):
        # cid r<round>-<sender>-<k>. Even sends go to the shared recipient, odd ones to the next
        # sender: inboxes interleave.
        round_, i, k = (int(x) for x in cid[1:].split("-"))
        to = recipient if k % 2 == 0 else names[(i + 1) % len(names)]
        return to, f"{round_}:{i}:{k}"

    acks = [{} for _ in senders]  # every acknowledgement of every round: cid -> sent frame
    started = time.monotonic()
    for round_ in range(KILL_ROUNDS):
        asyncio.run(asyncio.wait_for(kill_round(s, seed, round_, rng, senders, recipient, r_token, acks, plan,
                                                per_sender, window), ASYNC_TEST_TIMEOUT))
    total = sum(len(a) for a in acks)
    print(f"\n[kill -9] seed {seed}: {KILL_ROUNDS} rounds of kill -9 under load on one data directory, "
          f"{total} acknowledged messages, each found exactly once after every restart, "
          f"in {time.monotonic() - started:.1f} s")


async def kill_round(s, seed, round_, rng, senders, recipient, r_token, acks, plan, per_sender, window):
    """Load, kill -9 mid-stream, restart, check."""
    clients = [await s.connect(t) for _, t in senders]
    # The kill point: a random number of acknowledgements read while the senders still send
    # (each send yields, so acknowledgements are read as they arrive).
    kill_after = rng.randint(1, per_sender)
    killed = False

    async def pump(i):
        try:
            for k in range(per_sender):
                await wait_until(lambda: killed or len(clients[i].all("sent")) > k - window,
                                 timeout=60, interval=0.0005, what=f"sender {i}'s window")
                if killed:
                    return
                cid = f"r{round_}-{i}-{k}"
                await clients[i].send_message(cid, *plan(cid))
                await asyncio.sleep(0)  # a yield, so that all senders and readers interleave
        except Exception:
            pass  # the server was killed under us

    pumps = [asyncio.ensure_future(pump(i)) for i in range(len(clients))]
    await wait_until(lambda: sum(len(c.all("sent")) for c in clients) >= kill_after, timeout=60,
                     interval=0.001, what=f"{kill_after} acknowledgements")
    s.kill9()
    killed = True
    await asyncio.gather(*pumps)
    for c in clients:
        await c.wait_closed(timeout=10)
    round_acked = 0
    for i, c in enumerate(clients):
        for f in c.all("sent"):
            acks[i][f["id"]] = f
            round_acked += 1
    # Mid-stream means some sends were still unacknowledged (the clients may have written them
    # all: against a slow build the server is the one still working through them).
    assert round_acked < per_sender * len(clients), \
        f"seed {seed} round {round_}: the kill came after the stream ended ({round_acked} acknowledged)"
    s.restart()
    await check_after_kill(s, seed, round_, rng, senders, recipient, r_token, acks, plan)


async def check_after_kill(s, seed, round_, rng, senders, recipient, r_token, acks, plan):
    """Every acknowledged message of every round so far, exactly once, in both inboxes."""
    where = f"seed {seed} round {round_}"
    names = [n for n, _ in senders]
    inboxes = {}
    for i, (name, token) in enumerate(senders):
        c = await s.connect(token)
        inbox = await c.sync_all(timeout=30)
        assert sorted(inbox) == list(range(1, c.hello["last_seq"] + 1)), f"{where}: {name}'s seqs have a gap"
        msg_ids = [m["msg_id"] for m in inbox.values()]
        assert len(msg_ids) == len(set(msg_ids)), f"{where}: a message twice in {name}'s inbox"
        for cid, ack in acks[i].items():
            entry = inbox.get(ack["seq"])
            assert entry is not None and entry["msg_id"] == ack["msg_id"], \
                f"{where}: acknowledged {cid} (seq {ack['seq']}) lost or changed after kill -9: {entry}"
            assert (entry["from"], entry["to"], entry["body"]) == (name, *plan(cid))
        # Retrying an acknowledged id after the crash returns the original acknowledgement.
        for cid in rng.sample(sorted(acks[i]), min(2, len(acks[i]))):
            await c.send_message(cid, *plan(cid))
            again = await c.sent(cid)
            assert (again["seq"], again["msg_id"]) == (acks[i][cid]["seq"], acks[i][cid]["msg_id"]), where
        inboxes[name] = inbox
        await c.close()

    r = await s.connect(r_token)
    r_inbox = await r.sync_all(timeout=30)
    assert sorted(r_inbox) == list(range(1, r.hello["last_seq"] + 1)), f"{where}: recipient seqs have a gap"
    for i, name in enumerate(names):
        from_i = [m for _, m in sorted(r_inbox.items()) if m["from"] == name]
        # Each sender's order holds in the recipient's inbox: (round, k) increases with seq.
        order = [tuple(int(x) for x in m["body"].split(":")[::2]) for m in from_i]
        assert order == sorted(order), f"{where}: {name}'s messages out of send order in the recipient's inbox"
        # Both inboxes or neither: the sender's copies to the recipient are exactly the recipient's.
        sender_side = {m["msg_id"] for m in inboxes[name].values() if m["to"] == recipient}
        assert sender_side == {m["msg_id"] for m in from_i}, f"{where}: half-stored message for {name}"
        for cid, ack in acks[i].items():
            if plan(cid)[0] == recipient:
                assert ack["msg_id"] in sender_side, f"{where}: {cid} missing at the recipient"
    await r.close()


# ---- running out of file descriptors


def low_nofile(limit=64):
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(bool(SANITIZED), reason="UBSan's vptr check opens a pipe: out of descriptors, it reports "
                    "every virtual call as an invalid object")
async def test_out_of_descriptors_refuses_cleanly_and_serves_again(start_server):
    s = start_server(args=["--max-connections-per-user", "1000"], preexec_fn=low_nofile(64))
    name, token = s.new_user("fd")
    held = []
    refused = None
    for _ in range(200):
        try:
            held.append(await s.connect(token, open_timeout=2))
        except Exception as e:  # refused, reset, or never answered: all are clean refusals here
            refused = e
            break
    assert refused is not None, "64 descriptors never ran out"
    assert len(held) >= 10, f"only {len(held)} connections before running out"
    assert s.running(), "the server died when descriptors ran out\n" + s.log_tail()

    # While starved, the accept loop does not spin: a failed attempt costs little CPU.
    cpu_before, wall_before = cpu_seconds(s.proc.pid), time.monotonic()
    try:
        extra = await s.connect(token, open_timeout=1.5)
        held.append(extra)
    except Exception:
        pass
    cpu = cpu_seconds(s.proc.pid) - cpu_before
    wall = time.monotonic() - wall_before
    assert cpu < 0.5 * wall + 0.2, f"server used {cpu:.2f}s CPU in {wall:.2f}s while out of descriptors"

    # Existing connections still work.
    await held[0].send_message("starved", name, "still here")
    await held[0].sent("starved")

    await close_all(*held)
    await wait_until(lambda: _healthy(s), timeout=15, what="healthz after freeing descriptors")
    client = await s.connect(token)
    await client.send_message("fed", name, "serving again")
    await client.sent("fed")
    await client.close()
    assert s.running()


def _healthy(s):
    try:
        return http().get(s.url("/healthz"), timeout=1).status_code == 200
    except requests.RequestException:
        return False


# ---- a store that cannot commit


def fault_shim():
    """tests/faults: an LD_PRELOAD library that fails fsync and fdatasync with EIO while a file
    exists. CMake builds it beside the binary."""
    shim = BINARY.parent / "libchat_fault_sync.so"
    if not shim.exists():
        pytest.fail(f"{shim} is missing: build the tests (CHAT_BUILD_TESTS=ON) with the binary")
    return shim


async def test_a_send_the_store_cannot_commit_gets_unavailable_and_a_retry_succeeds(start_server, tmp_path):
    # The disk refuses to sync: the commit fails, the sender is told `unavailable`, nothing is
    # stored or delivered, and the same send retried once the disk is healthy again is stored
    # exactly once.
    fault = tmp_path / "disk-is-failing"
    s = start_server(env={"LD_PRELOAD": str(fault_shim()), "CHAT_FAULT_SYNC_FILE": str(fault)})
    a, a_token = s.new_user("fail")
    b, b_token = s.new_user("fail")
    sa = await s.connect(a_token)
    rb = await s.connect(b_token)

    failed_before = metric(s.metrics(), "chat_sends_failed_total", code="unavailable")
    fault.touch()
    try:
        await sa.send_message("f1", b, "held back")
        error = await sa.expect_error("unavailable", "f1", timeout=30)
        assert error["id"] == "f1"
    finally:
        fault.unlink()
    assert metric(s.metrics(), "chat_sends_failed_total", code="unavailable") == failed_before + 1, \
        "a send the store could not commit is counted as failed"

    await sa.send_message("f1", b, "held back")
    sent = await sa.sent("f1", timeout=10)
    assert sent["seq"] == 1, "the failed attempt left no entry in the sender's inbox"
    delivered = await rb.expect("message", lambda f: f["msg_id"] == sent["msg_id"])
    assert delivered["seq"] == 1, "the failed attempt left no entry in the recipient's inbox"
    entries, _ = await rb.sync(0)
    assert [m["body"] for m in entries] == ["held back"]
    await close_all(sa, rb)

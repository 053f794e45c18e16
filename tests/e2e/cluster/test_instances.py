"""Instances coming and going (issue 5, section 3): kill -9 in the middle of a stream, an instance
started in the middle of traffic, and SIGTERM draining one instance while the others carry on."""

import asyncio
import os
import random
import time

from cluster_harness import cluster, make_cluster  # noqa: F401  (fixtures)
from conftest import close_all, wait_until


def connections(server, name):
    r = server.get_user(name)
    assert r.status_code == 200, r.text
    return r.json()["connections"]


async def test_kill_9_of_an_instance_mid_stream_loses_no_acknowledged_message(cluster):
    seed = int(os.environ.get("E2E_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    alice, alice_token = cluster[0].new_user("alice")
    bob, bob_token = cluster[0].new_user("bob")
    sender = await cluster[0].connect(alice_token)
    other_device = await cluster[0].connect(bob_token)  # a device of bob on the doomed instance
    receiver = await cluster[1].connect(bob_token)
    assert connections(cluster[2], bob) == 2

    acked: dict[str, int] = {}
    killed_at: list[float] = []
    total = 400
    kill_after = rng.randrange(20, 200)

    async def stream():
        for i in range(total):
            try:
                await sender.send_message(f"k{i}", bob, f"body-{i}")
            except Exception:
                return
            await asyncio.sleep(0.002)  # pacing of the offered load, not a wait for an event

    async def acks():
        while True:
            try:
                f = await sender.expect_any([("sent", lambda f: True)], timeout=15)
            except AssertionError:
                return
            acked[f["id"]] = f["seq"]
            if len(acked) == kill_after:
                cluster[0].kill9()
                killed_at.append(time.monotonic())

    await asyncio.gather(stream(), acks())
    assert len(acked) >= kill_after, f"seed {seed}: only {len(acked)} acks"

    # Every acknowledged message is in bob's inbox exactly once, as any surviving instance sees it.
    reader = await cluster[2].connect(bob_token)
    entries = await reader.sync_all(0)
    bodies = [e["body"] for e in entries.values()]
    assert len(bodies) == len(set(bodies)), f"seed {seed}: a message was stored twice"
    assert sorted(entries) == list(range(1, len(entries) + 1)), f"seed {seed}: seq gap"
    for cid in acked:
        assert f"body-{cid[1:]}" in bodies, f"seed {seed}: acknowledged {cid} lost"
    # The live device on a surviving instance saw every entry once, in order.
    await wait_until(lambda: len(receiver.all("message")) >= len(entries), 15, what="receiver caught up")
    assert [m["seq"] for m in receiver.all("message")] == sorted(entries)

    # The dead instance's device stops counting within 15 s of the kill.
    await wait_until(lambda: connections(cluster[1], bob) == 2, 15, what="bob counted on instances 1 and 2")
    assert time.monotonic() - killed_at[0] < 15
    await close_all(receiver, reader)
    del other_device  # its instance is gone


async def test_an_instance_started_in_the_middle_of_traffic_serves_its_users_live(cluster):
    alice, alice_token = cluster[0].new_user("alice")
    bob, bob_token = cluster[0].new_user("bob")
    a = await cluster[0].connect(alice_token)
    b = await cluster[1].connect(bob_token)
    stop = asyncio.Event()
    sent_ids: list[str] = []

    async def traffic():
        i = 0
        while not stop.is_set():
            await a.send_message(f"t{i}", bob, f"t{i}")
            await a.sent(f"t{i}")
            sent_ids.append(f"t{i}")
            i += 1

    task = asyncio.create_task(traffic())
    newcomer = await asyncio.to_thread(cluster.add)  # a fourth instance joins while messages flow
    late = await newcomer.connect(bob_token)
    head = late.hello["last_seq"]
    await wait_until(lambda: len(sent_ids) >= head + 20, 20, what="20 more messages after the newcomer's hello")
    stop.set()
    await task
    await wait_until(lambda: len(late.all("message")) >= len(sent_ids) - head, 15, what="live on the newcomer")
    assert [m["seq"] for m in late.all("message")] == list(range(head + 1, len(sent_ids) + 1))
    await close_all(a, b, late)


async def test_sigterm_drains_one_instance_and_the_users_other_devices_keep_working(cluster):
    alice, alice_token = cluster[0].new_user("alice")
    bob, bob_token = cluster[0].new_user("bob")
    a = await cluster[1].connect(alice_token)
    doomed = await cluster[0].connect(bob_token)
    survivor = await cluster[2].connect(bob_token)
    for i in range(20):
        await doomed.send_message(f"d{i}", alice, f"d{i}")
    code = await asyncio.to_thread(cluster[0].terminate)
    assert code == 0
    # Every send the draining instance read got its answer before the 1001: `sent` for those it had
    # taken, `unavailable` for those that came in after the drain began.
    assert await doomed.wait_closed() == 1001
    acked = {f["id"] for f in doomed.all("sent")}
    refused = {f.get("id") for f in doomed.all("error") if f.get("code") == "unavailable"}
    assert acked | refused == {f"d{i}" for i in range(20)}, doomed.frames
    # The user's other device, on another instance, resends what was refused: each stored once.
    for cid in sorted(refused):
        await survivor.send_message(cid, alice, cid)
        await survivor.sent(cid)
    entries = await a.sync_all(0)
    assert sorted(e["body"] for e in entries.values()) == sorted(f"d{i}" for i in range(20))
    # The other instances carry on.
    await a.send_message("after", bob, "after the drain")
    await a.sent("after")
    m = await survivor.expect("message", lambda f: f["body"] == "after the drain", timeout=10)
    assert m["seq"] == 21
    await wait_until(lambda: connections(cluster[1], bob) == 1, 5, what="the drained device no longer counts")
    await close_all(a, survivor)

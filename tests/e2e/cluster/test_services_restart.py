"""Kafka and PostgreSQL restarted under a running cluster (issue 5, section 3). These stop the shared
services, so this file runs last and alone (`make test` runs the cluster suite after every other)."""

import asyncio
import time

from cluster_harness import cluster, make_cluster, services  # noqa: F401  (fixtures)
from conftest import close_all, metric, wait_until


async def send_and_classify(client, cid, to, body, timeout=15):
    """Sends one message; returns 'sent' or the error code."""
    await client.send_message(cid, to, body)
    f = await client.expect_any(
        [("sent", lambda f: f.get("id") == cid), ("error", lambda f: f.get("id") == cid)], timeout
    )
    return "sent" if f["type"] == "sent" else f["code"]


async def test_kafka_stopped_mid_stream_then_restarted(cluster):
    alice, alice_token = cluster[0].new_user("alice")
    bob, bob_token = cluster[0].new_user("bob")
    a = await cluster[0].connect(alice_token)
    b = await cluster[1].connect(bob_token)
    for i in range(10):
        assert await send_and_classify(a, f"pre{i}", bob, f"pre{i}") == "sent"
    await wait_until(lambda: len(b.all("message")) == 10, 10, what="live before the outage")

    await asyncio.to_thread(services, "stop", "kafka")
    try:
        # Sends during the outage are committed in PostgreSQL, so they are `sent`; the entries reach
        # bob's live device on the other instance through the catch-up, without a reconnect.
        outcomes = [await send_and_classify(a, f"out{i}", bob, f"out{i}") for i in range(10)]
        assert outcomes == ["sent"] * 10
        await wait_until(lambda: len(b.all("message")) == 20, 20, what="outage entries reached bob by catch-up")
        # A fast conversation is not held to the catch-up's pace: one round fills the whole gap,
        # step after step as the client reads.
        burst = 500
        for i in range(burst):
            await a.send_message(f"burst{i}", bob, f"burst{i}")
        for i in range(burst):
            await a.sent(f"burst{i}", timeout=30)
        await wait_until(lambda: len(b.all("message")) == 20 + burst, 8, what="a 500-message burst within one catch-up round or two")
    finally:
        await asyncio.to_thread(services, "start", "kafka")
    back = time.monotonic()
    consumed_before = metric(cluster[1].metrics(), "chat_bus_consumed_total")

    # Within 30 s of the broker's return, a new send is delivered through Kafka again: instance 1
    # consumes it (the catch-up alone does not count).
    async def delivered_by_kafka():
        cid = f"post{int(time.monotonic() * 1000)}"
        assert await send_and_classify(a, cid, bob, cid) == "sent"
        await b.expect("message", lambda f: f["body"] == cid, timeout=10)
        return metric(cluster[1].metrics(), "chat_bus_consumed_total") > consumed_before

    await wait_until(delivered_by_kafka, 30, interval=0.5, what="instance 1 consuming from Kafka again")
    assert time.monotonic() - back < 30
    assert a.closed.is_set() is False and b.closed.is_set() is False  # connections stayed open

    seqs = [m["seq"] for m in b.all("message")]
    assert seqs == list(range(1, len(seqs) + 1)), "live entries repeated or out of order"
    reader = await cluster[2].connect(bob_token)
    entries = await reader.sync_all(0)
    bodies = [e["body"] for e in entries.values()]
    assert len(bodies) == len(set(bodies)), "an entry was stored twice"
    await close_all(a, b, reader)


async def test_postgres_restarted_mid_stream(cluster):
    alice, alice_token = cluster[0].new_user("alice")
    bob, bob_token = cluster[0].new_user("bob")
    a = await cluster[0].connect(alice_token)
    b = await cluster[1].connect(bob_token)
    for i in range(10):
        assert await send_and_classify(a, f"pre{i}", bob, f"pre{i}") == "sent"

    outcomes: dict[str, str] = {}
    await asyncio.to_thread(services, "stop", "postgres")
    try:
        for i in range(5):
            outcomes[f"out{i}"] = await send_and_classify(a, f"out{i}", bob, f"out{i}")
        assert set(outcomes.values()) <= {"sent", "unavailable"}
        assert "unavailable" in outcomes.values()
    finally:
        await asyncio.to_thread(services, "start", "postgres")
    back = time.monotonic()

    # Recovery by itself within 30 s: a send is stored again.
    async def stored_again():
        r = await send_and_classify(a, "post", bob, "post")
        return r == "sent"

    await wait_until(stored_again, 30, interval=0.5, what="sends stored again after PostgreSQL's return")
    assert time.monotonic() - back < 30
    # Resending what the outage answered `unavailable`, with the same ids, stores each once.
    for cid, outcome in outcomes.items():
        assert await send_and_classify(a, cid, bob, cid) == "sent"
    assert not a.closed.is_set() and not b.closed.is_set()  # connections stayed open

    reader = await cluster[2].connect(bob_token)
    entries = await reader.sync_all(0)
    bodies = sorted(e["body"] for e in entries.values())
    assert sorted(entries) == list(range(1, len(entries) + 1))
    assert len(bodies) == len(set(bodies)), "an entry was stored twice"
    expected = {f"pre{i}" for i in range(10)} | set(outcomes) | {"post"}
    assert set(bodies) == expected
    # bob's live device got every entry once, in order (live, or by catch-up).
    await wait_until(lambda: len(b.all("message")) >= len(entries), 20, what="bob's device caught up")
    assert [m["seq"] for m in b.all("message")] == sorted(entries)
    await close_all(a, b, reader)

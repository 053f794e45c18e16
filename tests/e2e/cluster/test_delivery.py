"""Cluster mode (issue 5, section 3): three instances as separate processes over the real Kafka and
PostgreSQL. Delivery across instances, carbons, typing, presence, per-connection seq order, offline
sync, the cost property, and deletion."""

import asyncio

from cluster_harness import cluster, make_cluster  # noqa: F401  (fixtures)
from conftest import close_all, metric, mint, unique_name, wait_until


def new_user(cluster, prefix="u"):
    """A user created through instance 0's REST API (any instance would do: the store is shared)."""
    return cluster[0].new_user(prefix)


async def test_a_message_reaches_every_device_of_the_recipient_and_the_senders_other_devices(cluster):
    alice, alice_token = new_user(cluster, "alice")
    bob, bob_token = new_user(cluster, "bob")
    alice_laptop = await cluster[0].connect(alice_token)
    alice_phone = await cluster[2].connect(alice_token)
    bob_phone = await cluster[1].connect(bob_token)
    bob_tablet = await cluster[2].connect(bob_token)
    assert {alice_laptop.hello["node"], alice_phone.hello["node"]} == {cluster[0].node_id, cluster[2].node_id}

    await alice_laptop.send_message("m1", bob, "across instances")
    sent = await alice_laptop.sent("m1")
    for device in (bob_phone, bob_tablet):
        m = await device.expect("message", timeout=10)
        assert (m["from"], m["to"], m["body"], m["seq"], m["msg_id"]) == (alice, bob, "across instances", 1, sent["msg_id"])
    carbon = await alice_phone.expect("message", timeout=10)
    assert (carbon["to"], carbon["seq"], carbon["msg_id"]) == (bob, sent["seq"], sent["msg_id"])
    own = await alice_laptop.expect("message", timeout=10)
    assert own["seq"] == sent["seq"]

    # And back, from an instance that holds no connection of alice's.
    await bob_tablet.send_message("r1", alice, "reply")
    await bob_tablet.sent("r1")
    for device in (alice_laptop, alice_phone):
        m = await device.expect("message", lambda f: f["body"] == "reply", timeout=10)
        assert m["seq"] == 2
    await bob_phone.expect("message", lambda f: f["body"] == "reply", timeout=10)
    await close_all(alice_laptop, alice_phone, bob_phone, bob_tablet)


async def test_typing_crosses_instances_and_is_not_stored(cluster):
    alice, alice_token = new_user(cluster, "alice")
    bob, bob_token = new_user(cluster, "bob")
    a = await cluster[0].connect(alice_token)
    b1 = await cluster[1].connect(bob_token)
    b2 = await cluster[2].connect(bob_token)
    await a.send({"type": "typing", "to": bob})
    for device in (b1, b2):
        t = await device.expect("typing", timeout=10)
        assert t["from"] == alice
    messages, synced = await b1.sync(0)
    assert messages == [] and synced["upto"] == 0
    await close_all(a, b1, b2)


def connections(server, name):
    r = server.get_user(name)
    assert r.status_code == 200, r.text
    body = r.json()
    return body["connections"], body["online"]


async def test_presence_counts_the_devices_of_a_user_on_every_instance(cluster):
    carol, token = new_user(cluster, "carol")
    d1 = await cluster[1].connect(token)
    d2 = await cluster[2].connect(token)
    d3 = await cluster[2].connect(token)
    for s in cluster.servers:  # every instance answers with the cluster-wide view
        assert connections(s, carol) == (3, True)
    await d3.close()
    await wait_until(lambda: connections(cluster[0], carol) == (2, True), 10, what="2 connections after one closed")
    await close_all(d1, d2)
    await wait_until(lambda: connections(cluster[1], carol) == (0, False), 10, what="offline after all closed")
    r = cluster[0].get_user(carol).json()
    assert isinstance(r["last_seen"], int) and r["last_seen"] > 0


async def test_every_connection_gets_entries_in_strictly_increasing_seq_without_repeats(cluster):
    """Two senders on two instances write to one user at once; the user's devices sit on all three."""
    target, target_token = new_user(cluster, "target")
    s1, s1_token = new_user(cluster, "s1")
    s2, s2_token = new_user(cluster, "s2")
    devices = [await cluster[i].connect(target_token) for i in (0, 1, 2)]
    sender1 = await cluster[1].connect(s1_token)
    sender2 = await cluster[2].connect(s2_token)
    n = 150

    async def stream(client, tag):
        for i in range(n):
            await client.send_message(f"{tag}{i}", target, f"{tag}-{i}")
        for i in range(n):
            await client.sent(f"{tag}{i}", timeout=30)

    await asyncio.gather(stream(sender1, "a"), stream(sender2, "b"))
    for device in devices:
        await wait_until(lambda d=device: len(d.all("message")) >= 2 * n, 30, what="every entry on every device")
        seqs = [m["seq"] for m in device.all("message")]
        assert seqs == list(range(1, 2 * n + 1)), f"on {device.hello['node']}: {seqs[:20]}..."
        bodies = {m["body"] for m in device.all("message")}
        assert len(bodies) == 2 * n
    # Nothing more arrives later (no repeat from a slower path, nor from the catch-up).
    for device in devices:
        await device.ping()
        assert [m["seq"] for m in device.all("message")] == list(range(1, 2 * n + 1))
    await close_all(*devices, sender1, sender2)


async def test_an_offline_device_syncs_every_entry_once_from_any_instance(cluster):
    alice, alice_token = new_user(cluster, "alice")
    bob, bob_token = new_user(cluster, "bob")
    a = await cluster[0].connect(alice_token)
    for i in range(30):
        await a.send_message(f"m{i}", bob, f"offline {i}")
    for i in range(30):
        await a.sent(f"m{i}")
    first = await cluster[1].connect(bob_token)
    assert first.hello["last_seq"] == 30
    got = await first.sync_all(0, limit=7)
    assert sorted(got) == list(range(1, 31))
    await first.close()
    for i in range(30, 40):
        await a.send_message(f"m{i}", bob, f"offline {i}")
        await a.sent(f"m{i}")
    again = await cluster[2].connect(bob_token)
    assert again.hello["last_seq"] == 40
    later = await again.sync_all(30)
    assert sorted(later) == list(range(31, 41))
    assert [later[s]["body"] for s in sorted(later)] == [f"offline {i}" for i in range(30, 40)]
    await close_all(a, again)


async def test_an_instance_without_connections_of_sender_or_recipient_consumes_nothing(cluster):
    alice, alice_token = new_user(cluster, "alice")
    bob, bob_token = new_user(cluster, "bob")
    a = await cluster[0].connect(alice_token)
    b = await cluster[1].connect(bob_token)
    before = [s.metrics() for s in cluster.servers]
    n = 40
    for i in range(n):
        await a.send_message(f"m{i}", bob, "x")
    for i in range(n):
        await a.sent(f"m{i}")
    await wait_until(lambda: len(b.all("message")) >= n, 15, what="bob got every message")
    await a.send({"type": "typing", "to": bob})
    await b.expect("typing", timeout=10)

    def delta(i, name):
        return metric(cluster[i].metrics(), name) - metric(before[i], name)

    # Instance 0 holds alice only: one record per message for instance 1 (bob's entry), one typing
    # record; alice's own copies stay in-process. Instance 2 holds nobody involved.
    await wait_until(lambda: delta(0, "chat_bus_published_total") == n + 1, 10, what="instance 0 published n+1")
    await wait_until(lambda: delta(1, "chat_bus_consumed_total") == n + 1, 10, what="instance 1 consumed n+1")
    assert delta(2, "chat_bus_consumed_total") == 0
    assert delta(2, "chat_bus_published_total") == 0
    assert delta(1, "chat_bus_published_total") == 0
    assert delta(0, "chat_bus_consumed_total") == 0
    await close_all(a, b)


async def test_deleting_a_user_closes_their_connections_on_every_instance(cluster):
    dave, token = new_user(cluster, "dave")
    other, other_token = new_user(cluster, "other")
    devices = [await cluster[i].connect(token) for i in (0, 1, 2)]
    bystander = await cluster[1].connect(other_token)
    assert cluster[2].api("DELETE", f"/api/user/v1/{dave}").status_code == 204
    for d in devices:
        assert await d.wait_closed(10) == 4003
    await bystander.ping()
    r = cluster[0].get_user(dave)
    assert r.status_code == 404
    await bystander.close()


async def test_users_and_inboxes_are_shared_by_every_instance(cluster):
    name = unique_name("shared")
    assert cluster[1].create_user(name).status_code == 201
    assert cluster[2].create_user(name).status_code == 409
    token = mint(name)
    c = await cluster[0].connect(token)
    await c.send_message("self", name, "note to self")
    sent = await c.sent("self")
    r = cluster[2].api("GET", f"/api/message/v1/history?with={name}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert [e["msg_id"] for e in r.json()["messages"]] == [sent["msg_id"]]
    await c.close()

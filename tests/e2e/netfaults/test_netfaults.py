"""Faults across a real network (issue: hardening, §5): every instance in a network namespace of its own,
every fault an nftables drop on a veth (netns_harness.py). Each test prints its figure; docs/reliability.md
records them ("Faults in the network").

Run with `make test-netfaults` (root, and the services of scripts/dev-services running)."""

from __future__ import annotations

import asyncio
import time

from conftest import close_all, metric, wait_until
from netns_harness import net  # noqa: F401  (fixture)


def figure(text: str) -> None:
    print(f"\nFIGURE {text}", flush=True)


def connections(server, name: str) -> int:
    r = server.get_user(name)
    assert r.status_code == 200, r.text
    return r.json()["connections"]


async def send_and_classify(client, cid: str, to: str, body: str, timeout: float = 20) -> tuple[str, int | None]:
    """Sends one message: ('sent', seq) or (error code, None)."""
    await client.send_message(cid, to, body)
    f = await client.expect_any(
        [("sent", lambda f: f.get("id") == cid), ("error", lambda f: f.get("id") == cid)], timeout
    )
    return ("sent", f["seq"]) if f["type"] == "sent" else (f["code"], None)


async def inbox(reader, acked: dict[str, int] | None = None, at_seq: bool = False) -> dict[int, dict]:
    """The reader's inbox (synced from 0): gapless, no body twice, and every acknowledged message
    (body == its id) in it; at_seq: at the seq its `sent` gave (the reader is the sender)."""
    entries = await reader.sync_all(0)
    assert sorted(entries) == list(range(1, len(entries) + 1)), f"seq gap: {sorted(entries)}"
    bodies = [e["body"] for e in entries.values()]
    assert len(bodies) == len(set(bodies)), "a message was stored twice"
    by_body = {e["body"]: seq for seq, e in entries.items()}
    for cid, seq in (acked or {}).items():
        assert cid in by_body, f"acknowledged {cid} is lost"
        if at_seq:
            assert by_body[cid] == seq, f"acknowledged {cid} at seq {seq}, in the inbox at {by_body[cid]}"
    return entries


def in_order_once(client, expected: int) -> None:
    seqs = [m["seq"] for m in client.all("message")]
    assert seqs == list(range(1, expected + 1)), f"{client.user}: live seqs {seqs}"


# --------------------------------------------------------------------------------------------------


async def test_a_client_that_vanishes_without_fin_is_freed_within_the_idle_timeout(net):
    """The client's packets are dropped in both directions: no FIN, no RST reach the server. The
    server's pings go unanswered and the connection is closed and its socket freed within
    --idle-timeout (+ the closing handshake's time-out), while another client is untouched."""
    ping, idle, handshake = 1, 3, 2
    host = net.host()
    server = net.server(host, ["--ping-interval", str(ping), "--idle-timeout", str(idle),
                               "--handshake-timeout", str(handshake)])
    name, token = server.new_user("gone")
    other_name, other_token = server.new_user("stays")
    doomed = await server.connect(token)
    other = await server.connect(other_token)
    client_port = doomed.ws.local_address[1]
    assert host.established(8000, client_port) == 1
    assert metric(server.metrics(), "chat_connections") == 2

    host.cut_client(client_port)
    cut_at = time.monotonic()
    await wait_until(lambda: metric(server.metrics(), "chat_connections") == 1, idle + handshake + ping + 10,
                     interval=0.05, what="the vanished client's connection closed")
    closed_after = time.monotonic() - cut_at
    await wait_until(lambda: host.established(8000, client_port) == 0, 10, interval=0.05,
                     what="the vanished client's socket no longer established")
    freed_after = time.monotonic() - cut_at
    assert connections(server, name) == 0
    assert connections(server, other_name) == 1
    await other.ping()  # the other client answered every ping and is still served
    dropped = host.heal()
    assert dropped > 0, "the cut dropped no packet: the fault did not happen in the network"
    figure(f"client vanished without FIN (ping {ping} s, idle time-out {idle} s, handshake time-out "
           f"{handshake} s): connection closed after {closed_after:.2f} s, socket freed after "
           f"{freed_after:.2f} s; {dropped} packets dropped")
    doomed.ws.transport.abort()
    await close_all(other)


async def test_an_instance_cut_off_from_postgres_answers_unavailable_and_heals(net):
    """A loses the network path to PostgreSQL: its sends are refused (never a false `sent`), B serves
    on, and after the cut A stores again by itself with nothing acknowledged lost or stored twice."""
    a_node, b_node = net.cluster(2)
    alice, alice_token = a_node.new_user("alice")
    bob, bob_token = a_node.new_user("bob")
    a = await a_node.connect(alice_token)
    b = await b_node.connect(bob_token)
    acked: dict[str, int] = {}
    for i in range(5):
        outcome, seq = await send_and_classify(a, f"pre{i}", bob, f"pre{i}")
        assert outcome == "sent"
        acked[f"pre{i}"] = seq

    a_node.host.cut_services("postgres")
    cut_at = time.monotonic()
    outcomes: dict[str, str] = {}
    for i in range(8):
        outcome, seq = await send_and_classify(a, f"cut{i}", bob, f"cut{i}")
        outcomes[f"cut{i}"] = outcome
        if seq is not None:
            acked[f"cut{i}"] = seq
    all_answered = time.monotonic() - cut_at
    assert set(outcomes.values()) <= {"sent", "unavailable"}, outcomes
    assert "unavailable" in outcomes.values(), f"no send was refused while the store was unreachable: {outcomes}"
    # The other instance still reaches the store: it serves on.
    other = await b_node.connect(bob_token)
    outcome, seq = await send_and_classify(other, "from_b", alice, "from_b")
    assert outcome == "sent"
    # The open WebSockets of the cut instance stay open.
    assert not a.closed.is_set()
    dropped = a_node.host.heal()
    assert dropped > 0
    healed_at = time.monotonic()

    async def stored_again():
        cid = f"post{int(time.monotonic() * 1000)}"
        outcome, seq = await send_and_classify(a, cid, bob, cid)
        if outcome == "sent":
            acked[cid] = seq
        else:
            outcomes[cid] = outcome  # refused (maybe stored): resent below like the others
        return outcome == "sent"

    await wait_until(stored_again, 60, interval=0.2, what="sends stored again after the cut")
    heal_time = time.monotonic() - healed_at
    # What the cut refused is resent with the same ids: stored once each.
    for cid, outcome in outcomes.items():
        result, seq = await send_and_classify(a, cid, bob, cid)
        assert result == "sent", (cid, result)
        if cid in acked:
            assert seq == acked[cid], f"{cid}: resend answered seq {seq}, first answer {acked[cid]}"
        acked[cid] = seq
    sender = await b_node.connect(alice_token)
    assert len(await inbox(sender, acked, at_seq=True)) == len(acked) + 1  # + from_b
    reader = await b_node.connect(bob_token)
    entries = await inbox(reader, acked)
    await wait_until(lambda: len(b.all("message")) >= len(entries), 20, what="bob's live device caught up")
    in_order_once(b, len(entries))
    refused = sum(1 for cid, o in outcomes.items() if o == "unavailable" and cid.startswith("cut"))
    figure(f"instance cut off from PostgreSQL: 8 sends during the cut, {refused} unavailable, "
           f"{8 - refused} sent (all answered within {all_answered:.1f} s of the cut); stored again "
           f"{heal_time:.2f} s after the cut ended; {dropped} packets dropped")
    await close_all(a, b, other, reader, sender)


async def test_an_instance_cut_off_from_kafka_keeps_delivering_by_catch_up_and_heals(net):
    """A loses the network path to Kafka: sends are still `sent`, delivery goes on by the catch-up, and
    after the cut Kafka carries notifications both ways again."""
    a_node, b_node = net.cluster(2)
    alice, alice_token = a_node.new_user("alice")
    bob, bob_token = a_node.new_user("bob")
    a = await a_node.connect(alice_token)
    a2 = await a_node.connect(alice_token)  # alice's second device, on the same instance
    b = await b_node.connect(bob_token)
    for i in range(3):
        assert (await send_and_classify(a, f"pre{i}", bob, f"pre{i}"))[0] == "sent"
    await wait_until(lambda: len(b.all("message")) == 3, 10, what="live before the cut")

    a_node.host.cut_services("kafka")
    cut_at = time.monotonic()
    # The cluster contract (architecture.md §6.5, Kafka down): sends are `sent` once committed;
    # same-instance delivery is unaffected; cross-instance delivery goes by the catch-up.
    for i in range(10):
        assert (await send_and_classify(a, f"a{i}", bob, f"a{i}"))[0] == "sent"
        assert (await send_and_classify(b, f"b{i}", alice, f"b{i}"))[0] == "sent"
    await wait_until(lambda: len(a2.all("message")) == 23, 10, what="alice's second device (same instance)")
    await wait_until(lambda: len(b.all("message")) == 23, 20, what="bob's device on the other instance")
    await wait_until(lambda: len(a.all("message")) == 23, 20, what="alice's device on the cut instance")
    during = time.monotonic() - cut_at
    # The cut lasts until the producer gives up on records it could not deliver (10 s): they are
    # counted and dropped, and delivery still holds by the catch-up.
    await wait_until(lambda: metric(a_node.metrics(), "chat_bus_publish_failures_total") > 0, 40,
                     interval=0.5, what="A counting records it could not produce")
    for i in range(10, 15):
        assert (await send_and_classify(a, f"a{i}", bob, f"a{i}"))[0] == "sent"
        assert (await send_and_classify(b, f"b{i}", alice, f"b{i}"))[0] == "sent"
    for device in (a, a2, b):
        await wait_until(lambda: len(device.all("message")) == 33, 20, what="delivery after publish failures")
    cut_for = time.monotonic() - cut_at
    dropped = a_node.host.heal()
    assert dropped > 0
    healed_at = time.monotonic()
    consumed_a = metric(a_node.metrics(), "chat_bus_consumed_total")
    consumed_b = metric(b_node.metrics(), "chat_bus_consumed_total")

    # Healed: a new send each way is carried by Kafka again (consumed by the other instance).
    async def kafka_both_ways():
        tag = int(time.monotonic() * 1000)
        assert (await send_and_classify(a, f"ha{tag}", bob, f"ha{tag}"))[0] == "sent"
        assert (await send_and_classify(b, f"hb{tag}", alice, f"hb{tag}"))[0] == "sent"
        return (metric(a_node.metrics(), "chat_bus_consumed_total") > consumed_a
                and metric(b_node.metrics(), "chat_bus_consumed_total") > consumed_b)

    await wait_until(kafka_both_ways, 90, interval=0.5, what="both instances consuming from Kafka again")
    heal_time = time.monotonic() - healed_at
    reader = await b_node.connect(bob_token)
    entries = await reader.sync_all(0)
    assert sorted(entries) == list(range(1, len(entries) + 1))
    bodies = [e["body"] for e in entries.values()]
    assert len(bodies) == len(set(bodies)), "an entry was stored twice"
    for device in (a, a2, b):
        await wait_until(lambda: len(device.all("message")) >= len(entries), 20, what="caught up")
        in_order_once(device, len(entries))
    assert not any(c.closed.is_set() for c in (a, a2, b))
    failures = metric(a_node.metrics(), "chat_bus_publish_failures_total")
    figure(f"instance cut off from Kafka for {cut_for:.1f} s: 30 sends during the cut, all sent; the first "
           f"20 delivered on both instances in {during:.1f} s (catch-up); {failures:.0f} records A could not "
           f"produce counted; Kafka carried both ways again {heal_time:.2f} s after the cut ended; "
           f"{dropped} packets dropped")
    await close_all(a, a2, b, reader)


async def test_a_partition_between_two_instances_heals_by_itself(net):
    """Instance A loses the network to PostgreSQL and Kafka, hence to instance B (the instances talk
    only through them), for longer than B takes to declare A dead and reap it (30 s); A's clients still
    reach A. After the partition A registers again, re-creates its topic and is routed to; what B
    acknowledged meanwhile reaches A's devices, once each and in order."""
    a_node, b_node = net.cluster(2)
    alice, alice_token = a_node.new_user("alice")
    bob, bob_token = a_node.new_user("bob")
    a = await a_node.connect(alice_token)
    b = await b_node.connect(bob_token)
    assert (await send_and_classify(b, "pre", alice, "pre"))[0] == "sent"
    await a.expect("message", lambda f: f["body"] == "pre", timeout=10)

    a_node.host.cut_services("postgres", "kafka")
    cut_at = time.monotonic()
    acked: dict[str, int] = {"pre": 1}  # bob's sends to alice, with their seq in bob's inbox
    i = 0

    async def b_sends_while_a_is_dead():
        nonlocal i
        outcome, seq = await send_and_classify(b, f"p{i}", alice, f"p{i}")
        assert outcome == "sent", outcome
        acked[f"p{i}"] = seq
        i += 1
        return connections(b_node, alice) == 0

    await wait_until(b_sends_while_a_is_dead, 30, interval=0.5, what="B no longer counts A's devices")
    dead_after = time.monotonic() - cut_at
    outcome, _ = await send_and_classify(a, "from_a", bob, "from_a")
    assert outcome == "unavailable", outcome
    await wait_until(lambda: net.sql(f"SELECT count(*) FROM nodes WHERE node_id = '{a_node.node_id}'") == "0",
                     60, interval=0.5, what="B reaps A")
    reaped_after = time.monotonic() - cut_at
    for j in range(5):
        outcome, seq = await send_and_classify(b, f"r{j}", alice, f"r{j}")
        assert outcome == "sent"
        acked[f"r{j}"] = seq
    assert not a.closed.is_set(), "A's client was disconnected during the partition"
    dropped = a_node.host.heal()
    assert dropped > 0
    healed_at = time.monotonic()

    # A's device gets everything B acknowledged during the partition (A's catch-up).
    await wait_until(lambda: {m["body"] for m in a.all("message")} >= set(acked), 60,
                     what="alice's device on A caught up")
    caught_up = time.monotonic() - healed_at
    # A counts again on B, and B's sends reach A through Kafka again.
    await wait_until(lambda: connections(b_node, alice) == 1, 60, what="B counts alice's device on A again")
    consumed_a = metric(a_node.metrics(), "chat_bus_consumed_total")

    async def live_through_kafka():
        tag = int(time.monotonic() * 1000)
        outcome, seq = await send_and_classify(b, f"h{tag}", alice, f"h{tag}")
        assert outcome == "sent"
        acked[f"h{tag}"] = seq
        return metric(a_node.metrics(), "chat_bus_consumed_total") > consumed_a

    await wait_until(live_through_kafka, 90, interval=0.5, what="A consuming its (re-created) topic again")
    healed = time.monotonic() - healed_at
    outcome, seq = await send_and_classify(a, "from_a", bob, "from_a")
    assert outcome == "sent"
    sender = await b_node.connect(bob_token)
    await inbox(sender, acked, at_seq=True)
    reader = await b_node.connect(alice_token)
    entries = await inbox(reader, acked)
    await wait_until(lambda: len(a.all("message")) >= len(entries), 20, what="alice's device has every entry")
    in_order_once(a, len(entries))  # once each and in order, through live, catch-up and Kafka
    figure(f"partition of instance A from PostgreSQL, Kafka and B: B stopped counting A's devices after "
           f"{dead_after:.1f} s and reaped A after {reaped_after:.1f} s; {len(acked)} messages B acknowledged "
           f"during and after the partition; A's device caught up {caught_up:.2f} s after the partition "
           f"ended, Kafka delivery to A again after {healed:.2f} s; {dropped} packets dropped")
    await close_all(a, b, reader, sender)

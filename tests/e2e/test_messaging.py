"""Messaging over /ws (issue 2, sections 4 and 5): fan-out, carbons, seqs, idempotency, bad frames,
typing, refresh, ping."""

import asyncio
import json
import time

import pytest

from conftest import close_all, mint, token_exp, unique_name


def now_ms():
    return int(time.time() * 1000)


def assert_message(frame, *, sender, recipient, body, seq=None, msg_id=None):
    assert frame["type"] == "message"
    assert frame["from"] == sender and frame["to"] == recipient and frame["body"] == body, frame
    assert isinstance(frame["seq"], int) and frame["seq"] >= 1
    assert isinstance(frame["msg_id"], str) and frame["msg_id"]
    assert isinstance(frame["ts"], int) and abs(frame["ts"] - now_ms()) < 60_000, frame
    if seq is not None:
        assert frame["seq"] == seq, frame
    if msg_id is not None:
        assert frame["msg_id"] == msg_id, frame


async def test_fan_out_to_every_device_and_carbons_to_every_sender_device(server):
    a, a_token = server.new_user("alice")
    b, b_token = server.new_user("bob")
    a1, a2 = [await server.connect(a_token) for _ in range(2)]
    b1, b2, b3 = [await server.connect(b_token) for _ in range(3)]

    await a1.send_message("m1", b, "hello bob")
    sent = await a1.sent("m1")
    assert set(sent) >= {"type", "id", "msg_id", "seq", "ts"}
    assert sent["seq"] == 1, "A's first inbox entry"
    assert isinstance(sent["ts"], int)

    # Every device of B gets B's entry; every device of A, the sender's included, gets A's entry.
    b_copies = [await c.expect("message", lambda f: f["body"] == "hello bob") for c in (b1, b2, b3)]
    a_copies = [await c.expect("message", lambda f: f["body"] == "hello bob") for c in (a1, a2)]
    for m in b_copies:
        assert_message(m, sender=a, recipient=b, body="hello bob", seq=1, msg_id=sent["msg_id"])
    for m in a_copies:
        assert_message(m, sender=a, recipient=b, body="hello bob", seq=sent["seq"], msg_id=sent["msg_id"])

    # And the reply goes the other way the same way.
    await b2.send_message("r1", a, "hi alice")
    reply = await b2.sent("r1")
    assert reply["seq"] == 2, "B's second entry"
    for c in (a1, a2):
        assert_message(await c.expect("message", lambda f: f["body"] == "hi alice"),
                       sender=b, recipient=a, body="hi alice", seq=2, msg_id=reply["msg_id"])
    for c in (b1, b2, b3):
        assert_message(await c.expect("message", lambda f: f["body"] == "hi alice"),
                       sender=b, recipient=a, body="hi alice", seq=2, msg_id=reply["msg_id"])
    # Only the sending connection gets `sent`.
    assert [f["id"] for f in b2.all("sent")] == ["r1"]
    for c in (a2, b1, b3):
        assert c.all("sent") == []
    await close_all(a1, a2, b1, b2, b3)


async def test_message_to_self_is_one_entry(server):
    a, token = server.new_user("self")
    d1, d2 = await server.connect(token), await server.connect(token)
    await d1.send_message("s1", a, "note to self")
    sent = await d1.sent("s1")
    assert sent["seq"] == 1
    for d in (d1, d2):
        assert_message(await d.expect("message"), sender=a, recipient=a, body="note to self", seq=1)
    await d1.send_message("s2", a, "marker")
    assert (await d1.sent("s2"))["seq"] == 2, "one entry for a message to oneself, not two"
    for d in (d1, d2):
        await d.expect("message", lambda f: f["body"] == "marker")
        assert len(d.all("message")) == 2
    await close_all(d1, d2)


async def test_seqs_are_gapless_from_one_and_per_sender_order_is_kept(server):
    a, a_token = server.new_user("ga")
    c, c_token = server.new_user("gc")
    b, b_token = server.new_user("gb")
    sa, sc, rb = await server.connect(a_token), await server.connect(c_token), await server.connect(b_token)
    n = 30

    async def pipeline(client, tag):
        for i in range(n):  # no wait between sends: they are pipelined on the connection
            await client.send_message(f"{tag}{i}", b, f"{tag}-{i}")
        return [await client.sent(f"{tag}{i}", timeout=15) for i in range(n)]

    acks_a, acks_c = await asyncio.gather(pipeline(sa, "a"), pipeline(sc, "c"))
    assert [s["seq"] for s in acks_a] == list(range(1, n + 1)), "sender seqs gapless from 1, in send order"
    assert [s["seq"] for s in acks_c] == list(range(1, n + 1))

    got = [await rb.expect("message", timeout=15) for _ in range(2 * n)]
    by_seq = {m["seq"]: m for m in got}
    assert sorted(by_seq) == list(range(1, 2 * n + 1)), "recipient seqs gapless from 1"
    in_seq_order = [by_seq[s] for s in sorted(by_seq)]
    assert [m["body"] for m in in_seq_order if m["from"] == a] == [f"a-{i}" for i in range(n)]
    assert [m["body"] for m in in_seq_order if m["from"] == c] == [f"c-{i}" for i in range(n)]
    msg_ids = {m["msg_id"] for m in got}
    assert msg_ids == {s["msg_id"] for s in acks_a + acks_c}, "one msg_id per message, shared by both inboxes"
    await close_all(sa, sc, rb)


async def test_body_text_is_delivered_exactly(server):
    a, a_token = server.new_user("txt")
    b, b_token = server.new_user("txt")
    sa, rb = await server.connect(a_token), await server.connect(b_token)
    body = 'quotes " \\ backslash\nnew line\ttab \u00e9 \u4e2d\u6587 \U0001F600 </script> {"json":1}'
    await sa.send_message("u1", b, body)
    await sa.sent("u1")
    assert (await rb.expect("message"))["body"] == body
    await close_all(sa, rb)


async def test_large_message_under_the_limit_is_delivered(server):
    a, a_token = server.new_user("large")
    b, b_token = server.new_user("large")
    sa, rb = await server.connect(a_token), await server.connect(b_token)
    body = "L" * (60 * 1024)  # frame just under the default 64 KiB
    await sa.send_message("big", b, body)
    await sa.sent("big")
    assert (await rb.expect("message"))["body"] == body
    await close_all(sa, rb)


async def test_client_id_of_64_chars_is_accepted_and_echoed_in_sent(server):
    a, a_token = server.new_user("cid64")
    b, _ = server.new_user("cid64")
    sa = await server.connect(a_token)
    cid = "i" * 64
    await sa.send_message(cid, b, "x")
    assert (await sa.sent(cid))["id"] == cid
    await sa.close()


async def test_concurrent_sends_from_several_devices_of_one_user_get_distinct_gapless_seqs(server):
    a, a_token = server.new_user("multi")
    b, b_token = server.new_user("multi")
    devices = [await server.connect(a_token) for _ in range(3)]
    rb = await server.connect(b_token)
    n = 25

    async def pipeline(d, tag):
        for i in range(n):
            await d.send_message(f"{tag}{i}", b, f"{tag}-{i}")
        return [(await d.sent(f"{tag}{i}", timeout=15))["seq"] for i in range(n)]

    seqs = await asyncio.gather(*(pipeline(d, f"d{j}") for j, d in enumerate(devices)))
    for per_device in seqs:
        assert per_device == sorted(per_device), "one device's sends are acknowledged in its send order"
    assert sorted(s for per_device in seqs for s in per_device) == list(range(1, 3 * n + 1))
    got = [await rb.expect("message", timeout=15) for _ in range(3 * n)]
    assert sorted(m["seq"] for m in got) == list(range(1, 3 * n + 1))
    for j in range(3):
        bodies = [m["body"] for m in sorted(got, key=lambda m: m["seq"]) if m["body"].startswith(f"d{j}-")]
        assert bodies == [f"d{j}-{i}" for i in range(n)]
    # Every device of A saw every one of A's entries.
    for d in devices:
        await d.expect("message", lambda f: f["body"] == f"d2-{n - 1}", timeout=15)
    await close_all(*devices, rb)


# ---- idempotency


async def test_repeated_id_returns_the_original_sent_and_delivers_nothing_again(server):
    a, a_token = server.new_user("idem")
    b, b_token = server.new_user("idem")
    sa, rb = await server.connect(a_token), await server.connect(b_token)

    await sa.send_message("same", b, "once")
    first = await sa.sent("same")
    await rb.expect("message", lambda f: f["body"] == "once")
    await sa.send_message("same", b, "once")
    second = await sa.sent("same")
    assert (second["msg_id"], second["seq"]) == (first["msg_id"], first["seq"])

    # A later message from the same sender arrives after any duplicate would have (per-sender order).
    await sa.send_message("after", b, "marker")
    marker = await sa.sent("after")
    assert marker["seq"] == first["seq"] + 1, "the repeat did not take an inbox entry"
    await rb.expect("message", lambda f: f["body"] == "marker")
    assert [m["body"] for m in rb.all("message")] == ["once", "marker"], "the repeat was delivered again"
    await sa.expect("message", lambda f: f["body"] == "marker")
    assert [m["body"] for m in sa.all("message")] == ["once", "marker"], "the repeat's carbon was sent again"

    entries, synced = await rb.sync(0)
    assert [m["seq"] for m in entries] == [1, 2] and synced["upto"] == 2
    await close_all(sa, rb)


async def test_repeated_id_after_reconnect_and_from_another_device_is_deduplicated(server):
    a, a_token = server.new_user("idem2")
    b, _ = server.new_user("idem2")
    first_conn = await server.connect(a_token)
    await first_conn.send_message("retry-me", b, "payload")
    first = await first_conn.sent("retry-me")
    await first_conn.close()
    # A client that lost the ack reconnects and retries; so may another device of the same user.
    for _ in range(2):
        again = await server.connect(a_token)
        await again.send_message("retry-me", b, "payload")
        repeat = await again.sent("retry-me")
        assert (repeat["msg_id"], repeat["seq"]) == (first["msg_id"], first["seq"])
        assert again.hello["last_seq"] == first["seq"]
        await again.close()


async def test_same_id_sent_concurrently_from_two_devices_is_stored_once(server):
    a, a_token = server.new_user("race")
    b, b_token = server.new_user("race")
    d1, d2 = await server.connect(a_token), await server.connect(a_token)
    rb = await server.connect(b_token)
    for i in range(10):
        cid = f"race-{i}"
        await asyncio.gather(d1.send_message(cid, b, f"body {i}"), d2.send_message(cid, b, f"body {i}"))
        s1, s2 = await d1.sent(cid), await d2.sent(cid)
        assert (s1["msg_id"], s1["seq"]) == (s2["msg_id"], s2["seq"]), (s1, s2)
        assert s1["seq"] == i + 1
    await d1.send_message("marker", b, "marker")
    await d1.sent("marker")
    await rb.expect("message", lambda f: f["body"] == "marker")
    assert [m["body"] for m in rb.all("message")] == [f"body {i}" for i in range(10)] + ["marker"]
    await close_all(d1, d2, rb)


async def test_repeated_id_with_another_body_keeps_the_original(server):
    a, a_token = server.new_user("idbody")
    b, b_token = server.new_user("idbody")
    sa = await server.connect(a_token)
    await sa.send_message("same", b, "original")
    first = await sa.sent("same")
    await sa.send_message("same", b, "changed")
    second = await sa.sent("same")
    assert (second["msg_id"], second["seq"]) == (first["msg_id"], first["seq"])
    rb = await server.connect(b_token)
    entries, _ = await rb.sync(0)
    assert [m["body"] for m in entries] == ["original"]
    await close_all(sa, rb)


async def test_same_id_from_different_users_are_different_messages(server):
    a, a_token = server.new_user("ida")
    c, c_token = server.new_user("idc")
    b, b_token = server.new_user("idb")
    sa, sc, rb = await server.connect(a_token), await server.connect(c_token), await server.connect(b_token)
    await sa.send_message("shared-id", b, "from a")
    await sc.send_message("shared-id", b, "from c")
    ack_a, ack_c = await sa.sent("shared-id"), await sc.sent("shared-id")
    assert ack_a["msg_id"] != ack_c["msg_id"]
    bodies = {(await rb.expect("message"))["body"] for _ in range(2)}
    assert bodies == {"from a", "from c"}
    await close_all(sa, sc, rb)


# ---- errors


async def test_unknown_recipient_is_an_error_with_the_id_and_nothing_is_stored(server):
    a, a_token = server.new_user("unk")
    sa = await server.connect(a_token)
    await sa.send_message("to-nobody", unique_name("nobody"), "hello?")
    await sa.expect_error("unknown_recipient", "to-nobody")
    await sa.send_message("ok", a, "to self")
    assert (await sa.sent("ok"))["seq"] == 1, "the refused send took no inbox entry"
    await sa.close()


BAD_FRAMES = [
    ("not-json", "this is not json", None),
    ("truncated-json", '{"type":"send",', None),
    ("json-array", "[1,2,3]", None),
    ("json-string", '"ping"', None),
    ("json-number", "42", None),
    ("no-type", json.dumps({"id": "x"}), None),
    ("type-not-string", json.dumps({"type": 5}), None),
    ("unknown-type", json.dumps({"type": "shout", "id": "x"}), None),
    ("send-missing-id", json.dumps({"type": "send", "to": "someone", "body": "b"}), None),
    ("send-empty-id", json.dumps({"type": "send", "id": "", "to": "someone", "body": "b"}), ""),
    ("send-id-65-chars", json.dumps({"type": "send", "id": "i" * 65, "to": "someone", "body": "b"}), "i" * 65),
    ("send-id-number", json.dumps({"type": "send", "id": 7, "to": "someone", "body": "b"}), None),
    ("send-missing-to", json.dumps({"type": "send", "id": "bf1", "body": "b"}), "bf1"),
    ("send-bad-to", json.dumps({"type": "send", "id": "bf2", "to": "not a name!", "body": "b"}), "bf2"),
    ("send-missing-body", json.dumps({"type": "send", "id": "bf3", "to": "someone"}), "bf3"),
    ("send-empty-body", json.dumps({"type": "send", "id": "bf4", "to": "someone", "body": ""}), "bf4"),
    ("send-body-not-string", json.dumps({"type": "send", "id": "bf5", "to": "someone", "body": {"x": 1}}), "bf5"),
    ("sync-negative-after", json.dumps({"type": "sync", "after": -1}), None),
    ("sync-after-string", json.dumps({"type": "sync", "after": "0"}), None),
    ("sync-limit-0", json.dumps({"type": "sync", "after": 0, "limit": 0}), None),
    ("sync-limit-1001", json.dumps({"type": "sync", "after": 0, "limit": 1001}), None),
    ("typing-missing-to", json.dumps({"type": "typing"}), None),
    ("refresh-missing-token", json.dumps({"type": "refresh"}), None),
]


@pytest.mark.parametrize("kind,frame,cid", BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
async def test_bad_frame_gets_bad_request_and_the_connection_stays_usable(server, kind, frame, cid):
    a, token = server.new_user("bad")
    client = await server.connect(token)
    await client.send(frame)
    err = await client.expect_error("bad_request")
    if cid:
        assert err.get("id") == cid, f"the error should carry the client id: {err}"
    await client.ping()
    await client.send_message("after-bad", a, "still works")
    assert (await client.sent("after-bad"))["seq"] == 1, "the bad frame stored nothing"
    assert not client.closed.is_set()
    await client.close()


async def test_binary_frame_gets_bad_request_and_the_connection_stays_usable(server):
    _, token = server.new_user("bin")
    client = await server.connect(token)
    await client.send(b'{"type":"ping"}')
    await client.expect_error("bad_request")
    await client.ping()
    await client.close()


async def test_ping_gets_pong(server):
    _, token = server.new_user("ping")
    client = await server.connect(token)
    for _ in range(3):
        await client.send({"type": "ping"})
    for _ in range(3):
        assert await client.expect("pong") == {"type": "pong"}
    await client.close()


# ---- typing


async def test_typing_reaches_every_recipient_device_and_is_never_stored(server):
    a, a_token = server.new_user("typa")
    b, b_token = server.new_user("typb")
    a1, a2 = await server.connect(a_token), await server.connect(a_token)
    b1, b2 = await server.connect(b_token), await server.connect(b_token)
    await a1.send({"type": "typing", "to": b})
    for c in (b1, b2):
        assert (await c.expect("typing"))["from"] == a

    # Never stored: not in the recipient's or the sender's inbox, not in history.
    for c in (b1, a1):
        entries, synced = await c.sync(0)
        assert entries == [] and synced["upto"] == 0 and synced["more"] is False
    r = server.api("GET", "/api/message/v1/history", params={"with": a},
                   headers={"Authorization": f"Bearer {b_token}"})
    assert r.status_code == 200 and r.json()["messages"] == []

    # Not echoed to the sender's other device: a message sent after the typing event reaches a2,
    # and no typing event came before it.
    await a1.send_message("after-typing", b, "done typing")
    await a2.expect("message", lambda f: f["body"] == "done typing")
    assert a2.all("typing") == [] and a1.all("typing") == []
    await close_all(a1, a2, b1, b2)


async def test_typing_to_unknown_user_is_unknown_recipient(server):
    _, token = server.new_user("typu")
    client = await server.connect(token)
    await client.send({"type": "typing", "to": unique_name("ghost")})
    await client.expect_error("unknown_recipient")
    await client.ping()
    await client.close()


# ---- refresh


async def test_refresh_with_a_new_token_for_the_same_user_is_refreshed(server):
    name, token = server.new_user("refresh")
    client = await server.connect(token)
    newer = mint(name, ttl=7200)
    await client.send({"type": "refresh", "token": newer})
    refreshed = await client.expect("refreshed")
    assert refreshed["exp"] == token_exp(newer)
    await client.ping()
    await client.close()


async def test_refresh_with_another_users_token_is_forbidden_and_connection_stays(server):
    name, token = server.new_user("refresh")
    other, other_token = server.new_user("refresh")
    client = await server.connect(token)
    await client.send({"type": "refresh", "token": other_token})
    await client.expect_error("forbidden")
    await client.ping()
    await client.send_message("still-me", other, "x")
    sent = await client.sent("still-me")
    assert sent["seq"] == 1
    await client.expect("message", lambda f: f["from"] == name)
    await client.close()


@pytest.mark.parametrize("kind", ["garbage", "bad-signature", "expired", "not-a-string"])
async def test_refresh_with_an_invalid_token_is_bad_request_and_connection_stays(server, kind):
    name, token = server.new_user("refresh")
    bad = {
        "garbage": "garbage.token.here",
        "bad-signature": mint(name, secret="x" * 64),
        "expired": mint(name, ttl=-3600),
        "not-a-string": 12345,
    }[kind]
    client = await server.connect(token)
    await client.send({"type": "refresh", "token": bad})
    await client.expect_error("bad_request")
    await client.ping()
    await client.close()


async def test_refresh_with_a_token_minted_before_the_account_was_recreated_is_forbidden(server):
    # The refresh applies the same account checks as the upgrade: an old token cannot be revived
    # on a connection of the re-created user.
    name, _ = server.new_user("refresh")
    stale = mint(name, iat=int(time.time()) - 120)
    assert server.api("DELETE", f"/api/user/v1/{name}").status_code == 204
    server.create_user(name)
    client = await server.connect(mint(name))
    await client.send({"type": "refresh", "token": stale})
    await client.expect_error("forbidden")
    await client.ping()
    await client.close()


async def test_a_token_with_a_far_future_exp_keeps_the_connection_open(server):
    # exp values near the limit of what JSON numbers carry must not overflow the expiry timer.
    name, _ = server.new_user("far")
    client = await server.connect(mint(name, ttl=10**17))
    await client.ping()
    await client.send({"type": "ping"})
    await client.expect("pong")
    assert not client.closed.is_set()
    await client.close()

"""The inbox seen after the fact (issue 2, sections 3 to 5): offline sync, paging, hello.last_seq,
and the history REST endpoint."""

import asyncio

import pytest

from conftest import close_all, error_body, mint


async def send_many(client, to, bodies, prefix):
    for i, body in enumerate(bodies):
        await client.send_message(f"{prefix}{i}", to, body)
    return [await client.sent(f"{prefix}{i}", timeout=15) for i in range(len(bodies))]


async def test_offline_recipient_syncs_everything_on_connect(server):
    a, a_token = server.new_user("off")
    b, b_token = server.new_user("off")
    sa = await server.connect(a_token)
    acks = await send_many(sa, b, [f"offline {i}" for i in range(5)], "o")

    rb = await server.connect(b_token)  # B was never connected while A sent
    assert rb.hello["last_seq"] == 5
    entries, synced = await rb.sync(0)
    assert [m["seq"] for m in entries] == [1, 2, 3, 4, 5]
    assert [m["body"] for m in entries] == [f"offline {i}" for i in range(5)]
    assert [m["msg_id"] for m in entries] == [s["msg_id"] for s in acks]
    assert all(m["from"] == a and m["to"] == b for m in entries)
    assert synced == {"type": "synced", "after": 0, "upto": 5, "more": False}
    await close_all(sa, rb)


async def test_sync_from_a_kept_seq_returns_only_newer_entries(server):
    a, a_token = server.new_user("resume")
    b, b_token = server.new_user("resume")
    sa = await server.connect(a_token)
    await send_many(sa, b, ["one", "two", "three"], "r")
    rb = await server.connect(b_token)
    entries, _ = await rb.sync(0)
    kept = max(m["seq"] for m in entries)
    await rb.close()

    await send_many(sa, b, ["four", "five"], "s")
    rb = await server.connect(b_token)
    assert rb.hello["last_seq"] == 5
    entries, synced = await rb.sync(kept)
    assert [(m["seq"], m["body"]) for m in entries] == [(4, "four"), (5, "five")]
    assert synced == {"type": "synced", "after": 3, "upto": 5, "more": False}
    await close_all(sa, rb)


async def test_sync_pages_with_limit_and_more(server):
    a, a_token = server.new_user("page")
    b, b_token = server.new_user("page")
    sa = await server.connect(a_token)
    await send_many(sa, b, [f"p{i}" for i in range(7)], "p")
    rb = await server.connect(b_token)

    pages = []
    after = 0
    for _ in range(10):
        entries, synced = await rb.sync(after, limit=3)
        assert len(entries) <= 3
        assert synced["after"] == after
        pages.append([m["seq"] for m in entries])
        assert synced["upto"] == (entries[-1]["seq"] if entries else after)
        if not synced["more"]:
            break
        after = synced["upto"]
    assert pages[:2] == [[1, 2, 3], [4, 5, 6]]
    assert [s for page in pages for s in page] == list(range(1, 8))

    # Past the end: nothing, upto = after, more false.
    entries, synced = await rb.sync(7, limit=3)
    assert entries == [] and synced == {"type": "synced", "after": 7, "upto": 7, "more": False}
    entries, synced = await rb.sync(100)
    assert entries == [] and synced["upto"] == 100 and synced["more"] is False
    await close_all(sa, rb)


async def test_sync_default_limit_is_100(start_server):
    s = start_server(args=["--send-rate", "10000", "--send-burst", "10000"])
    a, a_token = s.new_user("deflim")
    sa = await s.connect(a_token)
    await send_many(sa, a, [f"m{i}" for i in range(120)], "d")  # to self: 120 entries
    entries, synced = await sa.sync(0)
    assert [m["seq"] for m in entries] == list(range(1, 101))
    assert synced["upto"] == 100 and synced["more"] is True
    entries, synced = await sa.sync(100)
    assert [m["seq"] for m in entries] == list(range(101, 121))
    assert synced["more"] is False
    await sa.close()


async def test_sync_limit_1000_is_accepted(server):
    a, a_token = server.new_user("lim1000")
    sa = await server.connect(a_token)
    await send_many(sa, a, ["x"], "l")
    entries, synced = await sa.sync(0, limit=1000)
    assert [m["seq"] for m in entries] == [1] and synced["more"] is False
    await sa.close()


async def test_sync_during_a_stream_of_sends_never_skips_a_seq(server):
    # A client that keeps its highest seq and syncs from it, while messages still arrive, must see
    # every seq: a page never jumps over an entry that is not yet visible.
    a, a_token = server.new_user("live")
    b, b_token = server.new_user("live")
    sa, rb = await server.connect(a_token), await server.connect(b_token)
    sender = asyncio.ensure_future(send_many(sa, b, [f"l{i}" for i in range(40)], "l"))
    kept, bodies = 0, {}
    for _ in range(1000):
        sender_done = sender.done()
        entries, synced = await rb.sync(kept, limit=7)
        page = {m["seq"]: m for m in entries if m["seq"] <= synced["upto"]}  # live events may interleave
        assert sorted(page) == list(range(kept + 1, synced["upto"] + 1)), (kept, synced, sorted(page))
        bodies.update({seq: m["body"] for seq, m in page.items()})
        kept = synced["upto"]
        if sender_done and not synced["more"]:
            break
    await sender
    assert kept == 40
    assert [bodies[s] for s in range(1, 41)] == [f"l{i}" for i in range(40)]
    await close_all(sa, rb)


# ---- history REST


def history(server, token, **params):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return server.api("GET", "/api/message/v1/history", params=params, headers=headers)


async def test_history_is_newest_first_pages_with_before_and_filters_by_peer(server):
    a, a_token = server.new_user("hist")
    b, b_token = server.new_user("hist")
    c, _ = server.new_user("hist")
    sa, sb = await server.connect(a_token), await server.connect(b_token)
    await sa.send_message("h0", b, "a->b 0")
    await sa.sent("h0")
    await sa.send_message("noise", c, "a->c")
    await sa.sent("noise")
    await sb.send_message("h1", a, "b->a 1")
    await sb.sent("h1")
    await sa.send_message("h2", b, "a->b 2")
    await sa.sent("h2")
    await sb.send_message("h3", a, "b->a 3")
    await sb.sent("h3")
    await sa.send_message("h4", b, "a->b 4")
    await sa.sent("h4")
    await sa.expect("message", lambda f: f["body"] == "a->b 4")

    r = history(server, a_token, **{"with": b})
    assert r.status_code == 200, r.text
    body = r.json()
    msgs = body["messages"]
    assert [m["body"] for m in msgs] == ["a->b 4", "b->a 3", "a->b 2", "b->a 1", "a->b 0"]
    assert [m["seq"] for m in msgs] == [6, 5, 4, 3, 1], "A's own seqs, the message to C excluded"
    for m in msgs:
        assert set(m) >= {"seq", "msg_id", "from", "to", "body", "ts"}
        assert {m["from"], m["to"]} == {a, b}
    assert body["next_before"] is None

    # Paging: limit 2, follow next_before until it is null.
    pages, before = [], None
    for _ in range(10):
        params = {"with": b, "limit": 2}
        if before is not None:
            params["before"] = before
        r = history(server, a_token, **params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["messages"]) <= 2
        pages.append([m["seq"] for m in page["messages"]])
        if page["next_before"] is None:
            break
        assert page["next_before"] == page["messages"][-1]["seq"]
        before = page["next_before"]
    assert pages[:2] == [[6, 5], [4, 3]]
    assert [s for p in pages for s in p] == [6, 5, 4, 3, 1]

    # before is exclusive.
    r = history(server, a_token, **{"with": b, "before": 5})
    assert [m["seq"] for m in r.json()["messages"]] == [4, 3, 1]

    # B sees the same conversation with B's own seqs and the same msg_ids.
    rb = history(server, b_token, **{"with": a}).json()["messages"]
    assert [m["body"] for m in rb] == [m["body"] for m in msgs]
    assert [m["msg_id"] for m in rb] == [m["msg_id"] for m in msgs]
    assert [m["seq"] for m in rb] == [5, 4, 3, 2, 1]
    await close_all(sa, sb)


async def test_history_default_limit_is_50_with_next_before(start_server):
    s = start_server(args=["--send-rate", "10000", "--send-burst", "10000"])
    a, a_token = s.new_user("h50")
    b, _ = s.new_user("h50")
    sa = await s.connect(a_token)
    await send_many(sa, b, [f"m{i}" for i in range(55)], "m")
    page = history(s, a_token, **{"with": b}).json()
    assert [m["seq"] for m in page["messages"]] == list(range(55, 5, -1))
    assert page["next_before"] == 6
    rest = history(s, a_token, **{"with": b, "before": 6}).json()
    assert [m["seq"] for m in rest["messages"]] == [5, 4, 3, 2, 1]
    assert rest["next_before"] is None
    await sa.close()


def test_history_with_no_messages_is_empty(server):
    a, a_token = server.new_user("hempty")
    b, _ = server.new_user("hempty")
    r = history(server, a_token, **{"with": b})
    assert r.status_code == 200
    assert r.json() == {"messages": [], "next_before": None}


@pytest.mark.parametrize("kind", ["none", "garbage", "expired", "bad-signature", "alg-none", "basic-scheme"])
def test_history_without_a_valid_token_is_401(server, kind):
    from conftest import craft
    import time
    a, _ = server.new_user("h401")
    b, _ = server.new_user("h401")
    now = int(time.time())
    headers = {
        "none": {},
        "garbage": {"Authorization": "Bearer garbage"},
        "expired": {"Authorization": f"Bearer {mint(a, ttl=-3600)}"},
        "bad-signature": {"Authorization": f"Bearer {mint(a, secret='y' * 64)}"},
        "alg-none": {"Authorization": "Bearer " + craft({"alg": "none"}, {"username": a, "exp": now + 60}, None)},
        "basic-scheme": {"Authorization": f"Basic {mint(a)}"},
    }[kind]
    r = server.api("GET", "/api/message/v1/history", params={"with": b}, headers=headers)
    assert r.status_code == 401, r.text
    error_body(r, "unauthorized")


def test_history_of_a_deleted_user_is_refused(server):
    a, a_token = server.new_user("hdel")
    b, _ = server.new_user("hdel")
    assert server.api("DELETE", f"/api/user/v1/{a}").status_code == 204
    r = history(server, a_token, **{"with": b})
    assert r.status_code in (401, 403), r.text


@pytest.mark.parametrize(
    "params",
    [{}, {"with": "not a name"}, {"with": "x" * 65}, {"limit": "0"}, {"limit": "1001"}, {"limit": "abc"},
     {"before": "abc"}, {"before": "-1"}],
    ids=["missing-with", "bad-with", "long-with", "limit-0", "limit-1001", "limit-text", "before-text",
         "before-negative"],
)
def test_history_bad_parameters_are_400(server, params):
    a, a_token = server.new_user("h400")
    b, _ = server.new_user("h400")
    query = dict(params)
    if "with" not in params and params:
        query["with"] = b
    r = history(server, a_token, **query)
    assert r.status_code == 400, r.text
    error_body(r, "bad_request")


def test_history_limit_1000_is_accepted(server):
    a, a_token = server.new_user("h1000")
    b, _ = server.new_user("h1000")
    r = history(server, a_token, **{"with": b, "limit": 1000})
    assert r.status_code == 200, r.text

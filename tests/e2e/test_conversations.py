"""The conversation list and presence over REST (docs/protocol.md §3.4, §3.5)."""

import pytest

from conftest import close_all, error_body, mint, wait_until

CONVERSATIONS = "/api/message/v1/conversations"
PRESENCE = "/api/message/v1/presence"


def get(server, path, token, **params):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return server.api("GET", path, params=params, headers=headers)


def peers(page):
    return [(c["with"], c["last"]["seq"]) for c in page["conversations"]]


async def test_conversations_list_each_peer_once_by_its_latest_entry_and_page(server):
    me, me_token = server.new_user("conv")
    a, a_token = server.new_user("conv")
    b, _ = server.new_user("conv")
    c, _ = server.new_user("conv")
    sme, sa = await server.connect(me_token), await server.connect(a_token)
    for cid, to, body in [("1", a, "to a"), ("2", b, "to b"), ("3", me, "note"), ("4", c, "to c"),
                          ("5", b, "to b again")]:
        await sme.send_message(cid, to, body)
        await sme.sent(cid)
    await sa.send_message("r", me, "a replies")
    await sa.sent("r")
    await sme.expect("message", lambda f: f["body"] == "a replies")

    r = get(server, CONVERSATIONS, me_token)
    assert r.status_code == 200, r.text
    page = r.json()
    assert peers(page) == [(a, 6), (b, 5), (c, 4), (me, 3)]
    assert page["next_before"] is None
    latest = page["conversations"][0]["last"]
    assert {k: latest[k] for k in ("from", "to", "body")} == {"from": a, "to": me, "body": "a replies"}
    assert set(latest) == {"seq", "msg_id", "from", "to", "body", "ts"}
    # The same entry as history gives for that peer.
    newest = get(server, "/api/message/v1/history", me_token, **{"with": a, "limit": 1}).json()["messages"][0]
    assert newest == latest

    # Pages of two, following next_before.
    first = get(server, CONVERSATIONS, me_token, limit=2).json()
    assert peers(first) == [(a, 6), (b, 5)]
    assert first["next_before"] == 5
    second = get(server, CONVERSATIONS, me_token, limit=2, before=5).json()
    assert peers(second) == [(c, 4), (me, 3)]
    assert second["next_before"] is None

    # The other side sees the conversation under its own seq.
    assert peers(get(server, CONVERSATIONS, a_token).json()) == [(me, 2)]
    await close_all(sme, sa)


def test_conversations_of_a_user_without_messages_are_empty(server):
    _, token = server.new_user("conv0")
    r = get(server, CONVERSATIONS, token)
    assert r.status_code == 200, r.text
    assert r.json() == {"conversations": [], "next_before": None}


async def test_conversations_default_to_50_per_page(start_server):
    s = start_server(args=["--send-rate", "10000", "--send-burst", "10000"])
    me, me_token = s.new_user("c50")
    others = [s.new_user("c50")[0] for _ in range(52)]
    sme = await s.connect(me_token)
    for i, other in enumerate(others):
        await sme.send_message(f"m{i}", other, f"hello {i}")
    for i in range(len(others)):
        await sme.sent(f"m{i}")
    page = get(s, CONVERSATIONS, me_token).json()
    assert [c["with"] for c in page["conversations"]] == others[::-1][:50]
    assert page["next_before"] == 3
    rest = get(s, CONVERSATIONS, me_token, before=3).json()
    assert [c["with"] for c in rest["conversations"]] == [others[1], others[0]]
    assert rest["next_before"] is None
    await sme.close()


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"before": "0"}, {"before": "-1"}, {"before": "1e3"}],
    ids=["limit-0", "limit-1001", "limit-text", "before-0", "before-negative", "before-float"],
)
def test_conversations_bad_parameters_are_400(server, params):
    _, token = server.new_user("c400")
    r = get(server, CONVERSATIONS, token, **params)
    assert r.status_code == 400, r.text
    error_body(r, "bad_request")


@pytest.mark.parametrize("path", [CONVERSATIONS, PRESENCE])
def test_without_a_valid_token_is_401_and_a_deleted_user_is_403(server, path):
    a, a_token = server.new_user("cauth")
    params = {"users": a} if path == PRESENCE else {}
    for headers in [{}, {"Authorization": "Bearer garbage"}, {"Authorization": f"Bearer {mint(a, ttl=-3600)}"}]:
        r = server.api("GET", path, params=params, headers=headers)
        assert r.status_code == 401, r.text
        error_body(r, "unauthorized")
    r = server.api("POST", path, params=params, headers={"Authorization": f"Bearer {a_token}"})
    assert r.status_code == 405, r.text
    assert server.api("DELETE", f"/api/user/v1/{a}").status_code == 204
    r = get(server, path, a_token, **params)
    assert r.status_code == 403, r.text
    error_body(r, "forbidden")


async def test_presence_follows_connections_and_last_seen(server):
    me, me_token = server.new_user("pres")
    a, a_token = server.new_user("pres")
    b, _ = server.new_user("pres")

    def presence():
        r = get(server, PRESENCE, me_token, users=f"{a},nobody-{a},{b}")
        assert r.status_code == 200, r.text
        return r.json()["users"]

    before = presence()
    assert [u["username"] for u in before] == [a, b], "in the order asked, unknown names left out"
    assert before[0] == {"username": a, "online": False, "connections": 0, "last_seen": None}

    d1, d2 = await server.connect(a_token), await server.connect(a_token)
    online = presence()[0]
    assert (online["online"], online["connections"]) == (True, 2)
    await close_all(d1, d2)
    # last_seen is written through the store's batched writer: it follows the disconnect.
    gone = await wait_until(
        lambda: (lambda u: u if not u["online"] and u["last_seen"] is not None else None)(presence()[0]),
        what="offline with last_seen recorded")
    assert gone["connections"] == 0 and gone["last_seen"] > 0


@pytest.mark.parametrize(
    "users",
    [None, "", ",", "a,,b", "not a name", "x" * 65, ",".join(f"u{i}" for i in range(101))],
    ids=["missing", "empty", "comma", "empty-part", "bad-name", "long-name", "101-names"],
)
def test_presence_bad_users_are_400(server, users):
    _, token = server.new_user("p400")
    params = {} if users is None else {"users": users}
    r = get(server, PRESENCE, token, **params)
    assert r.status_code == 400, r.text
    error_body(r, "bad_request")


def test_presence_takes_100_names(server):
    me, token = server.new_user("p100")
    r = get(server, PRESENCE, token, users=",".join([me] + [f"none{i}" for i in range(99)]))
    assert r.status_code == 200, r.text
    assert [u["username"] for u in r.json()["users"]] == [me]

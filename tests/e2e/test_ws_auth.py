"""The WebSocket handshake (issue 2, section 4): where the token comes from, every refused kind, hello."""

import time

import jwt as pyjwt
import pytest

from conftest import (
    SECRET, craft, metric, mint, refused_status, remember, token_exp, unique_name, wait_until,
)


def assert_json_error(body, code):
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)


# ---- accepted tokens


@pytest.mark.parametrize("via", ["header", "query"])
async def test_token_in_header_or_query_connects_and_hello_has_every_field(server, via):
    name, token = server.new_user("hello")
    client = await server.connect(token, via=via)
    hello = client.hello
    assert hello["type"] == "hello"
    assert hello["user"] == name
    assert isinstance(hello["connection_id"], str) and hello["connection_id"]
    assert isinstance(hello["node"], str) and hello["node"]
    assert hello["last_seq"] == 0
    assert hello["exp"] == token_exp(token)
    await client.ping()
    await client.close()


async def test_each_connection_gets_its_own_connection_id(server):
    _, token = server.new_user("cid")
    a = await server.connect(token)
    b = await server.connect(token)
    assert a.hello["connection_id"] != b.hello["connection_id"]
    await a.close()
    await b.close()


async def test_node_id_flag_is_reported_in_hello(start_server):
    s = start_server(args=["--node-id", "e2e-node-7"])
    _, token = s.new_user("node")
    client = await s.connect(token)
    assert client.hello["node"] == "e2e-node-7"
    await client.close()


async def test_sub_claim_is_the_identity_when_username_is_absent(server):
    name, _ = server.new_user("sub")
    token = mint(None, sub=name)
    client = await server.connect(token)
    assert client.hello["user"] == name
    await client.close()


async def test_username_claim_wins_over_sub(server):
    name, _ = server.new_user("both")
    other, _ = server.new_user("other")
    client = await server.connect(mint(name, sub=other))
    assert client.hello["user"] == name
    await client.close()


async def test_expired_within_leeway_is_accepted(server):
    # exp 10 s in the past is inside the default 30 s leeway.
    name, _ = server.new_user("leeway")
    client = await server.connect(mint(name, ttl=-10))
    assert client.hello["user"] == name
    await client.close()


@pytest.mark.parametrize(
    "claims",
    [{"exp_offset": 600.5}, {"nbf_offset": -10}, {"nbf_offset": 10}, {"iat_offset": None}],
    ids=["fractional-exp", "nbf-in-the-past", "nbf-within-leeway", "no-iat"],
)
async def test_other_valid_claim_shapes_are_accepted(server, claims):
    name, _ = server.new_user("claims")
    now = time.time()
    payload = {"username": name, "iat": int(now), "exp": now + claims.get("exp_offset", 600)}
    if "nbf_offset" in claims:
        payload["nbf"] = int(now) + claims["nbf_offset"]
    if "iat_offset" in claims:
        del payload["iat"]
    client = await server.connect(remember(pyjwt.encode(payload, SECRET, algorithm="HS256")))
    assert client.hello["user"] == name
    await client.close()


async def test_pyjwt_token_with_typ_header_and_extra_claims_is_accepted(server):
    name, _ = server.new_user("extra")
    token = remember(pyjwt.encode(
        {"username": name, "exp": int(time.time()) + 600, "iat": int(time.time()), "role": "x", "n": [1, 2]},
        SECRET, algorithm="HS256", headers={"kid": "k1"}))
    client = await server.connect(token)
    assert client.hello["user"] == name
    await client.close()


# ---- refused tokens: 401 with a JSON body, and the failure counted by reason


def _refusals(name):
    now = int(time.time())
    good_payload = {"username": name, "iat": now, "exp": now + 600}
    big = mint(name, pad="p" * 9000)
    assert len(big) > 8 * 1024
    return [
        # id, token, metrics reason
        ("missing", None, "missing"),
        ("empty", "", "missing"),
        ("garbage", remember("not-a-jwt"), "malformed"),
        ("two-parts", remember("eyJhbGciOiJIUzI1NiJ9.eyJ1c2VybmFtZSI6ImEifQ"), "malformed"),
        ("four-parts", mint(name) + ".x", "malformed"),
        ("bad-base64", remember("e$$.e$$.e$$"), "malformed"),
        ("header-not-json", craft("not json", good_payload), "malformed"),
        ("bad-signature", mint(name, secret="another-secret-" + "0" * 49), "bad_signature"),
        ("truncated-signature", mint(name)[:-4], "bad_signature"),
        ("alg-none", craft({"alg": "none", "typ": "JWT"}, good_payload, secret=None), "unsupported_alg"),
        ("alg-None", craft({"alg": "None", "typ": "JWT"}, good_payload, secret=None), "unsupported_alg"),
        ("alg-NONE-signed", craft({"alg": "NONE", "typ": "JWT"}, good_payload), "unsupported_alg"),
        ("alg-nOnE", craft({"alg": "nOnE", "typ": "JWT"}, good_payload, secret=None), "unsupported_alg"),
        ("alg-hs256-lowercase", craft({"alg": "hs256", "typ": "JWT"}, good_payload), "unsupported_alg"),
        ("alg-HS512", mint(name, alg="HS512"), "unsupported_alg"),
        ("alg-HS384", mint(name, alg="HS384"), "unsupported_alg"),
        ("alg-missing", craft({"typ": "JWT"}, good_payload), "unsupported_alg"),
        ("crit-header", craft({"alg": "HS256", "crit": ["x-must-understand"], "x-must-understand": 1},
                              good_payload), "critical_extension"),
        ("expired", mint(name, ttl=-120), "expired"),
        ("nbf-in-future", mint(name, nbf=now + 600), "not_yet_valid"),
        ("missing-exp", mint(name, drop=["exp"]), "missing_exp"),
        ("string-exp", mint(name, exp=str(now + 600)), "missing_exp"),
        ("no-identity", mint(None), "missing_identity"),
        ("numeric-username", craft({"alg": "HS256", "typ": "JWT"}, {**good_payload, "username": 12345}),
         "missing_identity"),
        ("numeric-sub", mint(None, sub=12345), "missing_identity"),
        ("over-8-kib", big, "too_large"),
    ]


_REFUSAL_IDS = [r[0] for r in _refusals("x")]


# Kinds checked for the status and the total only: two reasonable verifiers can disagree on which
# rule such a token breaks first (is a four-part token malformed, or badly signed?), so the reason
# label is only pinned for the kinds where the decisions leave one answer.
_AMBIGUOUS = {"empty", "bad-base64", "truncated-signature", "alg-missing", "string-exp", "four-parts",
              "header-not-json", "numeric-username", "numeric-sub"}


@pytest.mark.parametrize("kind", _REFUSAL_IDS)
@pytest.mark.parametrize("via", ["header", "query"])
async def test_invalid_token_is_refused_with_401_before_upgrade(server, kind, via):
    name, _ = server.new_user("refused")
    _, token, reason = next(r for r in _refusals(name) if r[0] == kind)
    before = server.metrics()
    status, body = await refused_status(server, token, via=via)
    assert status == 401, (kind, status, body)
    assert_json_error(body, "unauthorized")
    after = server.metrics()
    total_before = sum(v for (n, _), v in before.items() if n == "chat_auth_failures_total")
    total_after = sum(v for (n, _), v in after.items() if n == "chat_auth_failures_total")
    assert total_after == total_before + 1, "one refusal counts one auth failure"
    if kind not in _AMBIGUOUS:
        assert metric(after, "chat_auth_failures_total", reason=reason) == \
            metric(before, "chat_auth_failures_total", reason=reason) + 1, f"reason {reason} not counted"


async def test_bearer_scheme_is_required_in_the_header(server):
    name, token = server.new_user("scheme")
    for header in [token, f"Basic {token}", f"Token {token}"]:
        status, body = await refused_status(server, None, headers={"Authorization": header})
        assert status == 401, (header[:10], status)


async def test_unknown_user_is_403(server):
    status, body = await refused_status(server, mint(unique_name("nouser")))
    assert status == 403, body
    assert_json_error(body, "forbidden")


async def test_deleted_user_token_is_403(server):
    name, token = server.new_user("gone")
    assert server.api("DELETE", f"/api/user/v1/{name}").status_code == 204
    status, body = await refused_status(server, token)
    assert status == 403, body
    assert_json_error(body, "forbidden")


async def test_recreated_user_refuses_tokens_issued_before_recreation(server):
    name, _ = server.new_user("again")
    old = mint(name, iat=int(time.time()) - 10)  # issued before the re-creation below
    assert server.api("DELETE", f"/api/user/v1/{name}").status_code == 204
    assert server.create_user(name).status_code == 201
    status, body = await refused_status(server, old)
    assert status == 403, body
    fresh = await server.connect(mint(name))
    assert fresh.hello["user"] == name
    assert fresh.hello["last_seq"] == 0, "a re-created user starts with an empty inbox"
    await fresh.close()


# ---- Origin


@pytest.fixture
def origin_server(start_server):
    return start_server(args=["--allowed-origins", "https://chat.example,http://localhost:3000"])


@pytest.mark.parametrize("origin", ["https://evil.example", "http://chat.example", "https://chat.example.evil",
                                    "null"])
async def test_refused_origin_is_403(origin_server, origin):
    _, token = origin_server.new_user("origin")
    status, body = await refused_status(origin_server, token, origin=origin)
    assert status == 403, (origin, status, body)
    assert_json_error(body, "forbidden")


@pytest.mark.parametrize("origin", ["https://chat.example", "http://localhost:3000"])
async def test_listed_origin_is_accepted(origin_server, origin):
    name, token = origin_server.new_user("origin")
    client = await origin_server.connect(token, origin=origin)
    assert client.hello["user"] == name
    await client.close()


async def test_any_origin_when_allowed_origins_unset(server):
    name, token = server.new_user("anyorigin")
    client = await server.connect(token, origin="https://whatever.example")
    assert client.hello["user"] == name
    await client.close()


# ---- per-user connection limit


async def test_connections_past_the_per_user_limit_get_429(start_server):
    s = start_server(args=["--max-connections-per-user", "3"])
    name, token = s.new_user("limit")
    other, other_token = s.new_user("limit")
    clients = [await s.connect(token) for _ in range(3)]
    status, body = await refused_status(s, token)
    assert status == 429, body
    assert_json_error(body, "rate_limited")
    # The limit is per user: another user still connects.
    neighbour = await s.connect(other_token)
    # Closing one connection frees a slot (the server learns of the close asynchronously).
    await clients.pop().close()
    await wait_until(lambda: s.get_user(name).json()["connections"] == 2, what="connection count 2")
    again = await s.connect(token)
    await again.ping()
    for c in clients + [again, neighbour]:
        await c.close()


async def test_default_limit_is_32_connections_per_user(server):
    _, token = server.new_user("limit32")
    clients = [await server.connect(token) for _ in range(32)]
    status, body = await refused_status(server, token)
    assert status == 429, body
    for c in clients:
        await c.close()


async def test_websocket_on_another_path_is_404(server):
    _, token = server.new_user("path")
    status, body = await refused_status(server, token, path="/chat")
    assert status == 404, body

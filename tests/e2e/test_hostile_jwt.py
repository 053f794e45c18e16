"""Hostile tokens through the real server: every refused kind of docs/protocol.md §1 at the /ws upgrade
(header and ?token=) and at the history endpoint (Bearer), answered 401 (or 403 for a user the
token cannot be tied to) with a JSON error naming the reason, never a 5xx and never an upgrade.
The full table, with the verifier alone, is tests/unit/auth/jwt_hostile_test.cpp."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time
import urllib.parse

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from conftest import SECRET, metric, mint, remember, unique_name
from hostile import exchange, json_error, parse_responses, raw_token, request, upgrade_request

ATTACKER_KEY = "attacker-key-" + "0" * 51
INT64_MAX = 2**63 - 1

# An attacker's real key pairs.
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
EC_PUBLIC_PEM = EC_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class Fetches:
    """A listener that jku/x5u headers point at: it counts every connection the server would make."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/.well-known/jwks.json"

    def connections(self) -> int:
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return n
            conn.close()
            n += 1


FETCHES = Fetches()


def claims(user: str, **extra) -> dict:
    now = int(time.time())
    return {"username": user, "iat": now, "exp": now + 600, **extra}


def text(user: str, extra: str = "") -> str:
    """The claims as JSON text, with extra members written verbatim (duplicates, odd numbers)."""
    now = int(time.time())
    return f'{{"username":{json.dumps(user)},"iat":{now},"exp":{now + 600}{extra}}}'


def pyjwt_token(payload: dict, key, alg: str, headers: dict | None = None) -> str:
    return remember(pyjwt.encode(payload, key, algorithm=alg, headers=headers))


def resigned_segments(token: str, header=None, payload=None, signature=None) -> str:
    h, p, s = token.split(".")
    return remember(".".join([header if header is not None else h, payload if payload is not None else p,
                              signature if signature is not None else s]))


HS = '{"alg":"HS256","typ":"JWT"}'


def rows(user: str) -> list[tuple[str, str, int, str]]:
    """(id, token, status, the refusal reason the message names)."""
    good = mint(user)
    now = int(time.time())
    r = [
        # alg "none" and other algorithms
        *[(f"alg-{none}-unsigned", raw_token(f'{{"alg":"{none}","typ":"JWT"}}', text(user), None), 401,
           "unsupported_alg") for none in ["none", "None", "NONE", "nOnE"]],
        ("alg-none-signed-with-the-server-key", raw_token('{"alg":"none"}', text(user)), 401, "unsupported_alg"),
        ("alg-HS384-with-the-server-key", pyjwt_token(claims(user), SECRET, "HS384"), 401, "unsupported_alg"),
        ("alg-HS512-with-the-server-key", pyjwt_token(claims(user), SECRET, "HS512"), 401, "unsupported_alg"),
        ("alg-RS256-real-rsa-key", pyjwt_token(claims(user), RSA_KEY, "RS256"), 401, "unsupported_alg"),
        ("alg-PS256-real-rsa-key", pyjwt_token(claims(user), RSA_KEY, "PS256"), 401, "unsupported_alg"),
        ("alg-ES256-real-ec-key", pyjwt_token(claims(user), EC_KEY, "ES256"), 401, "unsupported_alg"),
        ("alg-EdDSA-real-ed25519-key", pyjwt_token(claims(user), ED_KEY, "EdDSA"), 401, "unsupported_alg"),
        # key confusion: HMAC keyed with the public key, and a valid HMAC under another alg
        ("hs256-keyed-with-the-rsa-public-pem", raw_token(HS, text(user), RSA_PUBLIC_PEM), 401, "bad_signature"),
        ("hs256-keyed-with-the-ec-public-pem", raw_token(HS, text(user), EC_PUBLIC_PEM), 401, "bad_signature"),
        ("rs256-header-over-a-valid-hmac", raw_token('{"alg":"RS256"}', text(user)), 401, "unsupported_alg"),
        # headers that choose or fetch a key elsewhere
        ("kid-path-traversal-empty-key",
         raw_token('{"alg":"HS256","kid":"../../../../dev/null"}', text(user), b""), 401, "bad_signature"),
        ("kid-sql-injection", raw_token('{"alg":"HS256","kid":"x\' UNION SELECT \'k\' --"}', text(user), "k"),
         401, "bad_signature"),
        ("jku-attacker-rs256", pyjwt_token(claims(user), RSA_KEY, "RS256", {"jku": FETCHES.url}), 401,
         "unsupported_alg"),
        ("jku-attacker-hs256", raw_token(json.dumps({"alg": "HS256", "jku": FETCHES.url}), text(user), ATTACKER_KEY),
         401, "bad_signature"),
        ("x5u-attacker-rs256", pyjwt_token(claims(user), RSA_KEY, "RS256", {"x5u": FETCHES.url}), 401,
         "unsupported_alg"),
        ("jwk-embedded-hmac-key",
         raw_token(json.dumps({"alg": "HS256", "jwk": {"kty": "oct", "k": ATTACKER_KEY}}), text(user),
                   ATTACKER_KEY), 401, "bad_signature"),
        ("crit-naming-exp", raw_token('{"alg":"HS256","crit":["exp"]}', text(user)), 401, "critical_extension"),
        ("crit-unknown-extension", raw_token('{"alg":"HS256","crit":["urn:x"],"urn:x":1}', text(user)), 401,
         "critical_extension"),
        # encoding
        ("padding-on-the-header", resigned_segments(good, header=good.split(".")[0] + "="), 401, "malformed"),
        ("padding-on-the-payload", resigned_segments(good, payload=good.split(".")[1] + "=="), 401, "malformed"),
        ("padding-on-the-signature", good + "=", 401, "malformed"),
        ("standard-base64-plus", resigned_segments(good, signature=good.split(".")[2][:42] + "+"), 401,
         "malformed"),
        ("standard-base64-slash", resigned_segments(good, signature=good.split(".")[2][:42] + "/"), 401,
         "malformed"),
        ("asterisk-in-the-payload", resigned_segments(good, payload="*" + good.split(".")[1][1:]), 401,
         "malformed"),
        ("non-ascii-in-the-header", resigned_segments(good, header="\u00e9" + good.split(".")[0][1:]), 401,
         "malformed"),
        ("space-inside", resigned_segments(good, payload=good.split(".")[1][:5] + " " + good.split(".")[1][5:]),
         401, "malformed"),
        ("tab-inside", resigned_segments(good, payload=good.split(".")[1][:5] + "\t" + good.split(".")[1][5:]),
         401, "malformed"),
        ("five-segments", good + ".x.y", 401, "malformed"),
        # duplicate members
        ("duplicate-alg-none-then-hs256", raw_token('{"alg":"none","alg":"HS256"}', text(user)), 401, "malformed"),
        ("duplicate-username", raw_token(HS, text(user, ',"username":"admin"')), 401, "malformed"),
        ("duplicate-username-via-escape", raw_token(HS, text(user, ',"user\\u006eame":"admin"')), 401, "malformed"),
        ("duplicate-exp", raw_token(HS, text(user, ',"exp":1')), 401, "malformed"),
        # exp, nbf, iat: wrong types and extreme values
        *[(f"exp-{name}", raw_token(HS, f'{{"username":"{user}","exp":{value}}}'), 401, "missing_exp")
          for name, value in [("string", f'"{now + 600}"'), ("true", "true"), ("null", "null"),
                              ("array", f"[{now + 600}]"), ("object", "{}")]],
        *[(f"exp-{name}", raw_token(HS, f'{{"username":"{user}","exp":{value}}}'), 401, "expired")
          for name, value in [("zero", "0"), ("negative", "-1"), ("minus-infinity", "-1e400"),
                              ("int64-min", str(-(2**63)))]],
        *[(f"nbf-{name}", raw_token(HS, text(user, f',"nbf":{value}')), 401, "malformed")
          for name, value in [("string", '"0"'), ("false", "false"), ("null", "null"), ("object", "{}")]],
        *[(f"nbf-{name}", raw_token(HS, text(user, f',"nbf":{value}')), 401, "not_yet_valid")
          for name, value in [("infinity", "1e400"), ("int64-max", str(INT64_MAX)), ("uint64-max", str(2**64 - 1))]],
        *[(f"iat-{name}", raw_token(HS, f'{{"username":"{user}","exp":{now + 600},"iat":{value}}}'), 401,
           "malformed") for name, value in [("string", f'"{now}"'), ("true", "true"), ("null", "null"),
                                             ("array", "[]")]],
        *[(f"iat-{name}", raw_token(HS, f'{{"username":"{user}","exp":{now + 600},"iat":{value}}}'), 401,
           "not_yet_valid") for name, value in [("infinity", "1e400"), ("int64-max", str(INT64_MAX)),
                                                 ("an-hour-ahead", str(now + 3600))]],
        # identity
        ("username-true", raw_token(HS, f'{{"username":true,"exp":{now + 600}}}'), 401, "missing_identity"),
        ("username-null-with-a-valid-sub", raw_token(HS, f'{{"username":null,"sub":"{user}","exp":{now + 600}}}'),
         401, "missing_identity"),
        # sizes (a token of 8193 bytes is in test_ws_auth.py)
        ("16-kib", mint(user, pad="p" * 16 * 1024), 401, "too_large"),
    ]
    return r


# Identities that are not the user's, however close: the user lookup refuses them (403), and
# none may be taken for the existing user.
def lookalikes(user: str) -> list[tuple[str, str]]:
    return [
        ("nul-then-more", user + "\u0000admin"),
        ("trailing-space", user + " "),
        ("upper-case", user.upper()),
        ("cyrillic-a", user.replace("a", "\u0430", 1)),
        ("fullwidth", "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in user)),
        ("sql-metacharacters", user + "' OR '1'='1"),
        ("path", "../" + user),
        ("5000-chars", user + "x" * 5000),
    ]


@pytest.fixture(scope="module")
def user(server):
    name, _ = server.new_user("alice")
    return name


ROW_IDS = [r[0] for r in rows("x")]
PATHS = ["ws-header", "ws-query", "history"]


async def attempt(server, path: str, token: str, user: str) -> list:
    """One request carrying the token the given way; the parsed responses."""
    if path == "ws-header":
        data = upgrade_request("/ws", token)
    elif path == "ws-query":
        data = upgrade_request("/ws?token=" + urllib.parse.quote(token, safe=""))
    else:
        data = request("GET", f"/api/message/v1/history?with={user}",
                       headers=[("Authorization", f"Bearer {token}")], close=True)
    return parse_responses(await exchange(server.port, data))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("row", ROW_IDS)
async def test_a_hostile_token_is_refused_with_a_clear_4xx(server, user, row, path):
    _, token, status, reason = next(r for r in rows(user) if r[0] == row)
    before = server.metrics()
    responses = await attempt(server, path, token, user)
    assert len(responses) == 1, responses
    got, _, _ = responses[0]
    assert got == status, (row, path, responses[0])
    error = json_error(responses[0])
    assert error["code"] == "unauthorized", error
    assert error["message"] == f"token refused: {reason}", error
    after = server.metrics()
    assert metric(after, "chat_auth_failures_total", reason=reason) == \
        metric(before, "chat_auth_failures_total", reason=reason) + 1, f"reason {reason} not counted"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", [k for k, _ in lookalikes("alice")])
async def test_a_lookalike_identity_is_never_taken_for_the_user(server, user, kind, path):
    identity = dict(lookalikes(user))[kind]
    token = pyjwt_token(claims(identity), SECRET, "HS256")
    responses = await attempt(server, path, token, user)
    assert [r[0] for r in responses] == [403], (kind, responses)
    assert json_error(responses[0])["code"] == "forbidden"


@pytest.mark.parametrize("path", PATHS)
async def test_key_headers_under_the_server_key_are_ignored_and_never_fetched(server, user, path):
    # kid, jku, x5u and jwk select or fetch keys in other verifiers. Here the key is always the
    # server's secret: signed with it, these headers change nothing, and nothing is fetched.
    before = FETCHES.connections()
    for header in [{"kid": "../../etc/passwd"}, {"jku": FETCHES.url}, {"x5u": FETCHES.url},
                   {"jwk": {"kty": "oct", "k": ATTACKER_KEY}}]:
        token = pyjwt_token(claims(user), SECRET, "HS256", header)
        responses = await attempt(server, path, token, user)
        expected = 200 if path == "history" else 101
        assert responses and responses[0][0] == expected, (header, responses)
    # Every refused row above pointed at the same listener too.
    assert FETCHES.connections() == 0 and before == 0, "the server fetched a jku/x5u URL"


async def test_tokens_of_deleted_and_recreated_users(server):
    name, token = server.new_user("gone")
    no_iat = pyjwt_token({"username": name, "exp": int(time.time()) + 600}, SECRET, "HS256")
    assert server.api("DELETE", f"/api/user/v1/{name}").status_code == 204
    for path in PATHS:
        responses = await attempt(server, path, token, name)
        assert [r[0] for r in responses] == [403], (path, responses)
        assert json_error(responses[0])["code"] == "forbidden"
    # Re-created: the old token (iat before the new account) stays refused; a token without iat
    # cannot be dated and is accepted (docs/protocol.md §1); iat 0 predates every account.
    assert server.create_user(name).status_code == 201
    old = pyjwt_token({"username": name, "iat": int(time.time()) - 5, "exp": int(time.time()) + 600},
                      SECRET, "HS256")
    epoch = pyjwt_token({"username": name, "iat": 0, "exp": int(time.time()) + 600}, SECRET, "HS256")
    for path in PATHS:
        for refused in (old, epoch):
            responses = await attempt(server, path, refused, name)
            assert [r[0] for r in responses] == [403], (path, responses)
        responses = await attempt(server, path, no_iat, name)
        assert responses[0][0] == (200 if path == "history" else 101), (path, responses)


@pytest.mark.parametrize("size,status", [(30 * 1024, 401), (40 * 1024, 431), (1024 * 1024, 431)],
                         ids=["30-kib-in-the-header-limit", "40-kib-over-it", "1-mib"])
@pytest.mark.parametrize("path", PATHS)
async def test_a_huge_token_is_refused_before_anything_is_read_from_it(server, user, size, status, path):
    token = remember("a" * size)
    responses = await attempt(server, path, token, user)
    assert [r[0] for r in responses] == [status], (path, responses)
    error = json_error(responses[0])
    assert error["code"] == ("unauthorized" if status == 401 else "too_large"), error
    # And the server goes on serving.
    _, good = server.new_user("after")
    assert (await attempt(server, path, good, user))[0][0] in (101, 200)


def test_every_refusal_reason_has_a_row():
    reasons = {r[3] for r in rows("x")}
    assert {"too_large", "malformed", "unsupported_alg", "critical_extension", "bad_signature", "missing_exp",
            "expired", "not_yet_valid", "missing_identity"} <= reasons, reasons

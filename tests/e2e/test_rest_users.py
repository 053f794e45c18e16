"""The user API (issue 2, section 3): statuses, bodies, validation, listing, the API key."""

import json

import pytest

from conftest import error_body, mint, unique_name, wait_until


def test_create_returns_201_with_username_and_created_at(server):
    name = unique_name("create")
    r = server.create_user(name)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["username"] == name
    assert isinstance(body["created_at"], int) and body["created_at"] > 0


def test_create_with_get_and_a_json_body_works_like_post(server):
    # The original curl examples send the create request with method GET and a JSON body.
    name = unique_name("getcreate")
    r = server.api("GET", "/api/user/v1/create", data=json.dumps({"username": name}),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["username"] == name
    assert server.get_user(name).status_code == 200


def test_duplicate_create_is_409_conflict(server):
    name = unique_name("dup")
    assert server.create_user(name).status_code == 201
    r = server.create_user(name)
    assert r.status_code == 409, r.text
    error_body(r, "conflict")


@pytest.mark.parametrize(
    "name",
    ["a", "Z9", "x" * 64, "A.b-c_9", "...", "-_-"],
    ids=["one-char", "two-chars", "64-chars", "all-punctuation-kinds", "dots", "dash-underscore"],
)
def test_valid_username_edges_are_accepted(server, name):
    r = server.create_user(name)  # the module's server has a fresh data directory
    assert r.status_code == 201, r.text
    assert server.get_user(name).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": ""},
        {"username": "x" * 65},
        {"username": "has space"},
        {"username": "slash/name"},
        {"username": "émile"},
        {"username": "emoji\U0001F600"},
        {"username": "semi;colon"},
        {"username": "new\nline"},
        {"username": 123},
        {"username": None},
        {"username": ["kiran"]},
        {"name": "kiran"},
        {},
        ["kiran"],
        "kiran",
    ],
    ids=[
        "empty", "65-chars", "space", "slash", "non-ascii-letter", "emoji", "semicolon", "newline",
        "number", "null", "array", "missing-field-other-key", "empty-object", "body-is-array",
        "body-is-string",
    ],
)
def test_bad_username_is_400(server, body):
    r = server.api("POST", "/api/user/v1/create", data=json.dumps(body),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    error_body(r, "bad_request")


@pytest.mark.parametrize("raw", [b"{", b"{\"username\": }", b"not json", b"", b"\xff\xfe"],
                         ids=["truncated", "missing-value", "text", "empty", "bad-utf8"])
def test_malformed_json_is_400(server, raw):
    r = server.api("POST", "/api/user/v1/create", data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    error_body(r, "bad_request")


def test_body_over_64_kib_is_413(server):
    name = unique_name("big")
    body = json.dumps({"username": name, "pad": "p" * (64 * 1024)}).encode()
    assert len(body) > 64 * 1024
    r = server.api("POST", "/api/user/v1/create", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    error_body(r, "too_large")
    assert server.get_user(name).status_code == 404


def test_body_just_under_64_kib_is_accepted(server):
    name = unique_name("almost")
    prefix = json.dumps({"username": name, "pad": ""})
    body = json.dumps({"username": name, "pad": "p" * (64 * 1024 - len(prefix) - 16)}).encode()
    assert len(body) < 64 * 1024
    r = server.api("POST", "/api/user/v1/create", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text


def test_chunked_request_body_is_read(server):
    name = unique_name("chunked")
    body = json.dumps({"username": name}).encode()
    r = server.api("POST", "/api/user/v1/create", data=iter([body[:5], body[5:]]),
                   headers={"Content-Type": "application/json"})  # a generator: Transfer-Encoding: chunked
    assert r.status_code == 201, r.text
    assert r.json()["username"] == name


def test_chunked_body_over_64_kib_is_413(server):
    name = unique_name("chunkbig")
    body = json.dumps({"username": name, "pad": "p" * (64 * 1024)}).encode()
    chunks = [body[i:i + 8192] for i in range(0, len(body), 8192)]
    r = server.api("POST", "/api/user/v1/create", data=iter(chunks), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert server.get_user(name).status_code == 404


def test_get_user_returns_presence_fields(server):
    name, _ = server.new_user("get")
    r = server.get_user(name)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["username"] == name
    assert isinstance(body["created_at"], int)
    assert body["online"] is False
    assert body["connections"] == 0
    assert body["last_seen"] is None  # never connected


def test_get_unknown_user_is_404(server):
    r = server.get_user(unique_name("ghost"))
    assert r.status_code == 404, r.text
    error_body(r, "not_found")


async def test_get_user_reports_connections_and_last_seen(server):
    name, token = server.new_user("presence")
    first = await server.connect(token)
    second = await server.connect(token)
    body = server.get_user(name).json()
    assert body["online"] is True
    assert body["connections"] == 2
    await first.close()
    await second.close()
    # The server learns of the closes asynchronously, and last_seen is written in the store's next
    # batch: poll the REST view under a bound.
    body = await wait_until(
        lambda: (lambda b: b if b["connections"] == 0 and b["last_seen"] is not None else None)(
            server.get_user(name).json()
        ),
        what="connections back to 0 and last_seen recorded",
    )
    assert body["online"] is False
    assert isinstance(body["last_seen"], int) and body["last_seen"] > 0


def test_delete_is_204_then_user_is_gone(server):
    name, _ = server.new_user("del")
    r = server.api("DELETE", f"/api/user/v1/{name}")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert server.get_user(name).status_code == 404


def test_delete_unknown_user_is_404(server):
    r = server.api("DELETE", f"/api/user/v1/{unique_name('nobody')}")
    assert r.status_code == 404, r.text
    error_body(r, "not_found")


def test_list_is_ordered_by_username_and_pages_with_next(server):
    prefix = unique_name("lst")
    names = sorted(f"{prefix}_{suffix}" for suffix in ["d", "a", "c", "e", "b"])
    for n in names:
        assert server.create_user(n).status_code == 201
    seen = []
    after = prefix  # sorts just before every name of this test, and is itself not a user
    for _ in range(10):
        r = server.api("GET", "/api/user/v1/list", params={"limit": 2, "after": after})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"users", "next"}
        page = [u["username"] for u in body["users"]]
        assert len(page) <= 2
        assert page == sorted(page)
        for u in body["users"]:
            assert {"username", "created_at", "online", "connections", "last_seen"} <= set(u)
        ours = [n for n in page if n.startswith(prefix + "_")]
        seen.extend(ours)
        if len(ours) < len(page) or body["next"] is None:
            break
        assert body["next"] == page[-1]
        after = body["next"]
    assert seen == names


def test_list_last_page_has_null_next(server):
    # 64 "z": the greatest valid username, so nothing follows this cursor.
    r = server.api("GET", "/api/user/v1/list", params={"after": "z" * 64, "limit": 5})
    assert r.status_code == 200, r.text
    assert r.json() == {"users": [], "next": None}


def test_list_default_limit_returns_users(server):
    server.new_user("lstdef")
    r = server.api("GET", "/api/user/v1/list")
    assert r.status_code == 200, r.text
    users = r.json()["users"]
    assert 1 <= len(users) <= 100
    names = [u["username"] for u in users]
    assert names == sorted(names)


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc"])
def test_list_with_bad_limit_is_400(server, limit):
    r = server.api("GET", "/api/user/v1/list", params={"limit": limit})
    assert r.status_code == 400, r.text
    error_body(r, "bad_request")


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/api/user/v1/create"),
        ("DELETE", "/api/user/v1/create"),
        ("POST", "/api/user/v1/list"),
        ("POST", "/healthz"),
        ("PUT", "/readyz"),
        ("POST", "/api/message/v1/history"),
    ],
)
def test_wrong_method_is_405_json(server, method, path):
    r = server.api(method, path, json={"username": unique_name("m")})
    assert r.status_code == 405, r.text
    error_body(r, "method_not_allowed")


@pytest.mark.parametrize("path", ["/nope", "/api/user/v2/create", "/api/user/v1/a/b", "/api/message/v1/nope"])
def test_unknown_path_is_404_json(server, path):
    r = server.api("GET", path)
    assert r.status_code == 404, r.text
    error_body(r, "not_found")


# ---- CHAT_API_KEY

API_KEY = "e2e-api-key-5b0c1e"


@pytest.fixture
def keyed_server(start_server):
    return start_server(env={"CHAT_API_KEY": API_KEY})


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": API_KEY + "x"}, {"X-API-Key": ""}],
                         ids=["missing", "wrong", "longer", "empty"])
def test_api_key_required_when_set(keyed_server, headers):
    name = unique_name("key")
    for method, path, kwargs in [
        ("POST", "/api/user/v1/create", {"json": {"username": name}}),
        ("GET", f"/api/user/v1/{name}", {}),
        ("GET", "/api/user/v1/list", {}),
        ("DELETE", f"/api/user/v1/{name}", {}),
    ]:
        r = keyed_server.api(method, path, headers=headers, **kwargs)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        error_body(r, "unauthorized")
    ok = keyed_server.get_user(name, headers={"X-API-Key": API_KEY})
    assert ok.status_code == 404, "the refused create must not have created the user"


def test_api_key_accepted_when_right(keyed_server):
    name = unique_name("key")
    h = {"X-API-Key": API_KEY}
    assert keyed_server.create_user(name, headers=h).status_code == 201
    assert keyed_server.get_user(name, headers=h).status_code == 200
    assert keyed_server.api("GET", "/api/user/v1/list", headers=h).status_code == 200
    assert keyed_server.api("DELETE", f"/api/user/v1/{name}", headers=h).status_code == 204


def test_api_key_does_not_guard_health_or_history(keyed_server):
    assert keyed_server.api("GET", "/healthz").status_code == 200
    assert keyed_server.api("GET", "/readyz").status_code == 200
    # History is guarded by the caller's JWT, not by the API key.
    name = unique_name("hist")
    assert keyed_server.create_user(name, headers={"X-API-Key": API_KEY}).status_code == 201
    r = keyed_server.api("GET", "/api/message/v1/history", params={"with": name},
                         headers={"Authorization": f"Bearer {mint(name)}"})
    assert r.status_code == 200, r.text


def _api_key_warnings(text):
    return [l for l in text.lower().splitlines() if "warn" in l and ("api key" in l or "api_key" in l)]


def test_open_user_api_warns_at_startup(server, keyed_server):
    # CHAT_API_KEY unset: the user API is open and a warning says so; set: no such warning.
    assert _api_key_warnings(server.log_text()), server.log_tail()
    assert not _api_key_warnings(keyed_server.log_text()), keyed_server.log_tail()


@pytest.mark.parametrize("name", ["create", "list"])
def test_names_of_the_user_api_paths_are_reserved(server, name):
    # A user named like a path of the API could never be fetched or deleted: refused at creation.
    r = server.api("POST", "/api/user/v1/create", json={"username": name})
    assert r.status_code == 400, r.text
    assert "reserved" in error_body(r, "bad_request")["message"]

"""docs/openapi.yaml against the real server.

* The spec is valid OpenAPI 3.1, and every example in it matches its own schema.
* The routes the server answers (ROUTES below) are the spec's paths and methods, and vice versa; the
  router's path literals in src/server all have a row in ROUTES.
* schemathesis generates requests from the spec (its examples, its coverage cases at the edges of each
  schema and unexpected methods, then random ones, in positive and negative modes) and sends them to a
  running server; each response must be a documented status, with a documented content type and a
  body that matches the documented schema, and never a 5xx (CHECKS; MORE_CHECKS add schemathesis's
  checks on rejected and accepted data and on authentication). The run is derandomized and bounded:
  the same spec gives the same requests. Afterwards every operation must have been answered with a
  2xx at least once, so a run that only ever got refusals fails.
* GET /ws is described in the spec but not fuzzed (its subject is the upgrade, which the WebSocket
  suites test): each refusal the spec documents is provoked once and checked against the spec.
* A 405 names the allowed methods (Allow), and the answer to HEAD has no body.

The fuzzed server runs with CHAT_API_KEY set, so schemathesis sends the user API's `X-API-Key`. Its
data is seeded before the run: the users of the spec's examples (kiran, alex, sam) exist, kiran and alex
have exchanged messages, and alex stays online, so history, conversations and presence answer with
entries rather than empty lists. The bearer token is kiran's (no example deletes kiran).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections import Counter
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from websockets.sync.client import connect as ws_connect_sync

from conftest import REPO_ROOT, Server, error_body, http, mint, require_binary

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SPEC_PATH = REPO_ROOT / "docs" / "openapi.yaml"
ROUTER_SOURCES = [REPO_ROOT / "src" / "server" / "rest_api.cpp", REPO_ROOT / "src" / "server" / "http_request.cpp"]
API_KEY = "e2e-openapi-api-key"

# Every route the server answers, with the methods it accepts; any other method gets 405. This table
# is compared with the spec (both ways) and with the server.
ROUTES: dict[str, set[str]] = {
    "/": {"GET", "HEAD"},
    "/api/dev/v1": {"GET"},
    "/api/dev/v1/token": {"POST"},
    "/api/user/v1/create": {"POST", "GET"},
    "/api/user/v1/list": {"GET"},
    "/api/user/v1/{username}": {"GET", "DELETE"},
    "/api/message/v1/history": {"GET"},
    "/api/message/v1/conversations": {"GET"},
    "/api/message/v1/presence": {"GET"},
    "/healthz": {"GET"},
    "/readyz": {"GET"},
    "/metrics": {"GET"},
    "/ws": {"GET"},
}
RESERVED_NAMES = {"create", "list"}  # docs/protocol.md §3.2
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

# Any status, content type or body the spec does not document fails, and so does any 5xx.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# And, as they pass too: data the spec forbids is refused with a 4xx and data it allows is not, a
# request without (or with a wrong) credential is refused, required headers are required, and
# documented response headers match their schemas.
MORE_CHECKS = [
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
    checks.ignored_auth,
    checks.missing_required_header,
    checks.response_headers_conformance,
    checks.use_after_free,
    checks.ensure_resource_availability,
    checks.unsupported_method,
]

# Bounded and derandomized: the same requests on every run, in well under a minute on two loaded cores.
SCHEMATHESIS_CONFIG = {
    "seed": 20261128,
    "generation": {
        "deterministic": True,
        "database": "none",
        "max-examples": 40,
        "mode": "all",
    },
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
    "request-timeout": 10,
    # Hypothesis times its own data generation; on a loaded machine that says nothing about the server.
    "suppress-health-check": ["too_slow"],
}


def load_spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


# --------------------------------------------------------------------------------------------------
# the spec itself


def test_spec_is_valid_openapi_3_1():
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    spec = load_spec()
    assert spec["openapi"].startswith("3.1."), spec["openapi"]
    validate(spec, cls=OpenAPIV31SpecValidator)
    # schemathesis reads every operation of it without an error.
    loaded = schemathesis.openapi.from_path(SPEC_PATH)
    results = list(loaded.get_all_operations())
    problems = [str(r.err()) for r in results if hasattr(r, "err")]
    assert problems == []
    assert len(results) == sum(len(methods) for methods in ROUTES.values())


def pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def spec_examples(spec: dict):
    """(where, JSON pointer of the schema, example) for every example of a request or response body."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            bodies = [(("paths", path, method, "requestBody"), operation.get("requestBody", {}))]
            bodies += [
                (("paths", path, method, "responses", status), r) for status, r in operation.get("responses", {}).items()
            ]
            for location, body in bodies:
                if "$ref" in body:
                    location = tuple(body["$ref"].removeprefix("#/").split("/"))
                    body = spec
                    for part in location:
                        body = body[part]
                for media_type, media in body.get("content", {}).items():
                    examples = [("example", media["example"])] if "example" in media else []
                    examples += [(name, e["value"]) for name, e in media.get("examples", {}).items()]
                    for name, value in examples:
                        where = f"{method.upper()} {path} {'/'.join(location[3:] or location)} {media_type} {name}"
                        yield where, pointer(*location, "content", media_type, "schema"), value


def test_every_example_matches_its_schema():
    spec = load_spec()
    # The spec is one JSON Schema resource, so the "#/components/..." references inside it resolve.
    registry = Registry().with_resource("urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012))
    cases = list(spec_examples(spec))
    assert len(cases) >= 20, f"only {len(cases)} examples found in the spec"
    failures = []
    for where, schema_pointer, value in cases:
        validator = Draft202012Validator({"$ref": "urn:spec#" + schema_pointer}, registry=registry)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]
        if errors:
            failures.append(f"{where}: {errors}")
    assert failures == []


# --------------------------------------------------------------------------------------------------
# routes: the server, the table and the spec agree


def test_the_route_table_is_the_spec():
    spec = load_spec()
    documented = {path: {m.upper() for m in item if m.upper() in HTTP_METHODS} for path, item in spec["paths"].items()}
    assert documented == ROUTES


def test_every_path_the_router_names_is_in_the_route_table():
    """The router's path literals (src/server) all belong to ROUTES, so a new route needs a row."""
    prefix = re.search(r'kUserPrefix = "([^"]+)"', ROUTER_SOURCES[0].read_text()).group(1)
    named = set()
    for source in ROUTER_SOURCES:
        text = source.read_text()
        named |= set(re.findall(r'path(?:\(\))? == "(/[^"]*)"', text))
        named |= {prefix + rest for rest in re.findall(r'rest == "([^"]+)"', text)}
    assert named, "no route literal found in the router; has it moved?"
    assert named - set(ROUTES) == set()


def concrete(path: str) -> str:
    return path.replace("{username}", "route_probe")


def every_route_on(tmp: Path) -> list[str]:
    """The flags that turn the optional routes on: a web client (a one-page stand-in for web/dist)
    and the development login."""
    web = tmp / "web"
    web.mkdir(exist_ok=True)
    (web / "index.html").write_text("<!doctype html><title>chat-engine</title>")
    return ["--web-dir", str(web), "--dev-login"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's default server has every optional route on."""
    require_binary()
    tmp = tmp_path_factory.mktemp("routes")
    s = Server(tmp, args=every_route_on(tmp)).start()
    yield s
    s.stop()
    s.assert_log_clean()


# What a method a route does not accept gets: 405, except at /ws, where anything but a GET upgrade is
# told to upgrade (docs/protocol.md §2.1).
OTHER_METHOD_STATUS = {"/ws": 426}


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_the_server_answers_each_route_with_its_methods_only(server, path):
    for method in HTTP_METHODS:
        # A fresh connection each time: the server sends a body with its answer to HEAD (a bug, see
        # test_the_answer_to_head_has_no_body), which a kept-alive connection would take for the next answer.
        r = server.api(method, concrete(path), headers={"Connection": "close"})
        if method in ROUTES[path]:
            assert r.status_code != 405, (method, r.status_code, r.text)
            if r.status_code == 404:
                assert error_body(r, "not_found")["message"] != "no such path", (method, r.text)
        else:
            assert r.status_code == OTHER_METHOD_STATUS.get(path, 405), (method, r.status_code, r.text)
            if method != "HEAD":
                error_body(r, "method_not_allowed" if r.status_code == 405 else None)


@pytest.mark.parametrize(
    "path",
    ["/nothing.js", "/api", "/api/dev", "/api/dev/v1/", "/api/user/v1/", "/api/user/v1/a/b", "/api/user/v2/list", "/api/message/v1/",
     "/api/message/v1/history/x", "/api/message/v1/inbox", "/healthz/", "/metrics/x", "/ws/x", "/wss"],
)
def test_the_server_answers_404_beside_the_routes(server, path):
    for method in ("GET", "POST", "DELETE"):
        r = server.api(method, path, headers={"Connection": "close"})
        assert r.status_code == 404, (method, r.status_code, r.text)
        assert error_body(r, "not_found")["message"] == "no such path"


# --------------------------------------------------------------------------------------------------
# schemathesis against the running server


async def seed(s: Server, kiran: str, alex: str) -> None:
    k, a = await s.connect(kiran), await s.connect(alex)
    for cid, client, to, body in [
        ("k1", k, "alex", "hello alex"),
        ("k2", k, "kiran", "note to self"),
        ("a1", a, "kiran", "reply 0"),
        ("a2", a, "kiran", "reply 1"),
        ("a3", a, "kiran", "reply 2"),
    ]:
        await client.send_message(cid, to, body)
        await client.sent(cid)
    await k.close()
    await a.close()


@pytest.fixture(scope="module")
def openapi_schema(tmp_path_factory):
    require_binary()
    tmp = tmp_path_factory.mktemp("openapi")
    s = Server(tmp, args=every_route_on(tmp), env={"CHAT_API_KEY": API_KEY}).start()
    try:
        for name in ("kiran", "alex", "sam"):
            r = s.create_user(name, headers={"X-API-Key": API_KEY})
            assert r.status_code == 201, r.text
        kiran, alex = mint("kiran"), mint("alex")
        asyncio.run(seed(s, kiran, alex))
        # alex stays online for the run: presence then shows a live connection.
        online = ws_connect_sync(s.ws_url(), additional_headers={"Authorization": f"Bearer {alex}"}, proxy=None)
        online.recv(timeout=5)  # hello
        config = schemathesis.Config.from_dict(
            {
                **SCHEMATHESIS_CONFIG,
                "base-url": s.url(""),
                "auth": {"openapi": {"bearerAuth": {"bearer": kiran}, "apiKey": {"api_key": API_KEY}}},
            }
        )
        loaded = schemathesis.openapi.from_path(SPEC_PATH, config=config)

        @loaded.hook
        def filter_case(context, case):
            # The one narrow exclusion. Negative cases for {username} include the reserved names
            # `create` and `list`, but /api/user/v1/create and /api/user/v1/list are operations of
            # their own, and OpenAPI matches a concrete path before a templated one: such a request
            # is one of theirs (tested there), not a getUser or deleteUser with a bad name.
            return not (
                case.operation.path == "/api/user/v1/{username}"
                and case.formatted_path in {"/api/user/v1/" + name for name in RESERVED_NAMES}
            )

        @loaded.hook
        def after_call(context, case, response):
            OBSERVED.setdefault(case.operation.label, Counter())[response.status_code] += 1

        yield loaded
        online.close()
    finally:
        s.stop()
    s.assert_log_clean()


# Statuses the server answered, by operation ("GET /healthz": {200: 12}); filled by the after_call hook.
OBSERVED: dict[str, Counter] = {}


@pytest.fixture
def run_reached_the_server():
    """After the run: every operation was answered with success at least once (a run that only ever
    got 401 would pass the checks while testing nothing), and the main refusals were exercised."""
    OBSERVED.clear()
    yield
    print("\nstatuses per operation:", {label: dict(counts) for label, counts in sorted(OBSERVED.items())})
    fuzzed = {f"{m} {p}" for p, methods in ROUTES.items() for m in methods if p != "/ws"}
    assert set(OBSERVED) == fuzzed
    without_success = [label for label, counts in OBSERVED.items() if not any(200 <= s < 300 for s in counts)]
    assert without_success == []
    seen = set().union(*OBSERVED.values())
    assert {400, 401, 404, 409} <= seen, seen


schema = schemathesis.pytest.from_fixture("openapi_schema").exclude(path="/ws")


# schemathesis's own strategies draw from the `random` module, which Hypothesis seeds for each example
# (so the run stays derandomized); the deprecation warning about it is schemathesis's, not ours.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@schema.parametrize()
def test_the_server_matches_the_spec(case, run_reached_the_server):
    case.call_and_validate(session=http(), checks=CHECKS + MORE_CHECKS)


# --------------------------------------------------------------------------------------------------
# GET /ws: not fuzzed, but each refusal the spec documents is sent and checked against it

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": KEY}


def ws_refusals(user_token: str, ghost_token: str):
    """(name, path, headers, query, expected status) of each documented refusal of the upgrade."""
    bearer = {"Authorization": f"Bearer {user_token}"}
    return [
        ("bad key", "/ws", {**UPGRADE, **bearer, "Sec-WebSocket-Key": "short"}, {}, 400),
        ("no token", "/ws", UPGRADE, {}, 401),
        ("expired token", "/ws", {**UPGRADE, "Authorization": f"Bearer {mint('kiran', ttl=-3600)}"}, {}, 401),
        ("bad query token", "/ws", UPGRADE, {"token": "not-a-jwt"}, 401),
        ("unknown user", "/ws", {**UPGRADE, "Authorization": f"Bearer {ghost_token}"}, {}, 403),
        ("version 8", "/ws", {**UPGRADE, **bearer, "Sec-WebSocket-Version": "8"}, {}, 426),
        ("not an upgrade", "/ws", bearer, {}, 426),
        ("other path", "/chat", {**UPGRADE, **bearer}, {}, 404),
    ]


def check_ws_refusal(s: Server, path: str, headers: dict, query: dict, status: int) -> None:
    operation = schemathesis.openapi.from_path(SPEC_PATH)["/ws"]["GET"]
    case = operation.Case(headers=headers, query=query)
    response = http().request("GET", s.url(path), headers=headers, params=query, timeout=10)
    assert response.status_code == status, (response.status_code, response.text)
    case.validate_response(response, checks=CHECKS)


def test_each_documented_refusal_of_the_upgrade_matches_the_spec(server):
    _, token = server.new_user("oa_ws")
    for name, path, headers, query, status in ws_refusals(token, mint("oa_ws_never_created")):
        try:
            check_ws_refusal(server, path, headers, query, status)
        except BaseException as e:
            raise AssertionError(f"{name}: {e}") from e


def test_the_refusals_of_a_full_user_and_a_foreign_origin_match_the_spec(start_server):
    s = start_server(args=["--max-connections-per-user", "1", "--allowed-origins", "https://chat.example"])
    _, token = s.new_user("oa_ws")
    upgrade = {**UPGRADE, "Authorization": f"Bearer {token}", "Origin": "https://chat.example"}
    check_ws_refusal(s, "/ws", {**upgrade, "Origin": "https://evil.example"}, {}, 403)
    with ws_connect_sync(s.ws_url(), additional_headers={"Authorization": f"Bearer {token}"},
                         origin="https://chat.example", proxy=None) as first:
        assert json.loads(first.recv(timeout=5))["type"] == "hello"
        check_ws_refusal(s, "/ws", upgrade, {}, 429)


def test_an_accepted_upgrade_is_the_documented_101(server):
    documented = load_spec()["paths"]["/ws"]["get"]["responses"]["101"]
    _, token = server.new_user("oa_ws")
    with ws_connect_sync(server.ws_url(), additional_headers={"Authorization": f"Bearer {token}"}, proxy=None) as ws:
        assert ws.response.status_code == 101
        assert ws.response.headers["Upgrade"] == documented["headers"]["Upgrade"]["schema"]["const"]
        assert ws.response.headers["Sec-WebSocket-Accept"]
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"


# --------------------------------------------------------------------------------------------------
# HTTP semantics the spec cannot state


@pytest.mark.parametrize("path", sorted(p for p in ROUTES if p != "/ws"))
def test_a_405_names_the_allowed_methods(server, path):
    concrete = path.replace("{username}", "kiran")
    for method in HTTP_METHODS:
        if method in ROUTES[path]:
            continue
        r = server.api(method, concrete)
        assert r.status_code == 405, (method, concrete, r.status_code)
        assert set(r.headers.get("Allow", "").split(", ")) == ROUTES[path], (method, concrete, r.headers)


def test_the_answer_to_head_has_no_body(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        # HEAD, then GET on the same connection: the GET's answer must follow the HEAD's headers.
        sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405"), data
    assert rest.startswith(b"HTTP/1.1 200"), data

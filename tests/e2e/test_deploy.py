"""Deployment (deploy/, docs/operations.md §12-13): Debian's nginx with deploy/nginx.conf, TLS and
all, in front of two real instances in cluster mode; the compose file; the Grafana dashboard's
queries against what /metrics exposes; and operations.md against --help and /metrics.

deploy/nginx.conf is the one configuration: `nginx_conf()` derives the test's copy from it by
replacing only the upstream's `server` lines, the `listen` port and the certificate directory (and,
for the time-out table, the two proxy time-outs), each of which must match exactly as many times as
expected, so that a change to the file that the derivation would miss fails here.

The cluster comes from tests/e2e/cluster/cluster_harness.py (a database and a topic prefix of its
own, over the services of scripts/dev-services); without CHAT_TEST_DATABASE_URL and
CHAT_TEST_KAFKA_BROKERS those tests are skipped, or fail under CHAT_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Iterable

import promql_parser
import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame, Opcode

from cluster.cluster_harness import Cluster
from conftest import BINARY, REPO_ROOT, Client, close_all, error_body, free_port, mint, require_binary, unique_name

DEPLOY = REPO_ROOT / "deploy"
NGINX_CONF = DEPLOY / "nginx.conf"
COMPOSE = DEPLOY / "compose.yaml"
DASHBOARD = DEPLOY / "grafana" / "chat-engine.json"
OPERATIONS = REPO_ROOT / "docs" / "operations.md"
ORIGIN = "https://chat.example.test"  # the web client's public origin, as --allowed-origins lists it
PING_INTERVAL = 0.5  # the instances' --ping-interval here: short, so that the time-out table is quick
UPSTREAM_SERVER = re.compile(r"^[ \t]*server chat-engine-\d+:8000\b[^;\n]*;[ \t]*\n", re.M)


def require_nginx() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if path:
        return path
    message = "nginx is not installed (scripts/install-deps.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI is set, so that is a failure", pytrace=False)
    pytest.skip(message)


def replace(text: str, pattern: str, new: str, count: int = 1) -> str:
    out, n = re.subn(pattern, new, text, flags=re.M)
    assert n == count, f"deploy/nginx.conf: expected {count} match(es) of {pattern!r}, found {n}"
    return out


def nginx_conf(ports: Iterable[int], listen: int, tls_dir: Path, proxy_timeout: float | None = None) -> str:
    """deploy/nginx.conf with its upstream on loopback ports, its own port and certificate dir."""
    text = NGINX_CONF.read_text()
    servers = UPSTREAM_SERVER.findall(text)
    assert len(servers) == 3, f"deploy/nginx.conf: expected the 3 instances of compose.yaml, found {servers}"
    indent = re.match(r"[ \t]*", servers[0]).group(0)
    ours = "".join(f"{indent}server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in ports)
    first = UPSTREAM_SERVER.search(text).start()
    text = UPSTREAM_SERVER.sub("", text)  # what precedes the first server line does not move
    text = text[:first] + ours + text[first:]
    text = replace(text, r"listen 8443 ssl;", f"listen 127.0.0.1:{listen} ssl;")
    text = replace(text, r"/etc/nginx/tls/", f"{tls_dir}/", count=2)
    if proxy_timeout is not None:
        text = replace(text, r"proxy_read_timeout \S+;", f"proxy_read_timeout {round(proxy_timeout * 1000)}ms;")
        text = replace(text, r"proxy_send_timeout \S+;", f"proxy_send_timeout {round(proxy_timeout * 1000)}ms;")
    return text


def make_cert(directory: Path) -> Path:
    """A self-signed pair made by the script compose users run (deploy/make-tls-cert.sh)."""
    out = subprocess.run(
        [str(DEPLOY / "make-tls-cert.sh"), str(directory), "localhost"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return directory


class Nginx:
    """Debian's nginx in the foreground with a derived deploy/nginx.conf under a prefix of its own."""

    def __init__(self, workdir: Path, upstream_ports: Iterable[int], tls_dir: Path, proxy_timeout: float | None = None):
        self.binary = require_nginx()
        self.prefix = workdir
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.tls_dir = tls_dir
        self.port = free_port()
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(nginx_conf(upstream_ports, self.port, tls_dir, proxy_timeout))
        self.log_path = self.prefix / "nginx.log"
        self.proc: subprocess.Popen | None = None
        self.ssl = ssl.create_default_context(cafile=str(tls_dir / "tls.crt"))

    def command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", f"{self.prefix}/", "-c", str(self.conf), "-e", "stderr", *extra]

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command("-t", "-g", f"pid {self.prefix}/nginx.pid;"), capture_output=True, text=True, timeout=30
        )

    def start(self) -> "Nginx":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command("-g", f"daemon off; pid {self.prefix}/nginx.pid;"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:  # a bounded wait for the listening socket
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"nginx not listening within 20 s:\n{self.log_path.read_text()}")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # The same interface as conftest.Server for Client.open and REST calls.
    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def ws_url(self, query: str = "", path: str = "/ws") -> str:
        return f"wss://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        with requests.Session() as s:
            s.trust_env = False
            return s.request(method, self.url(path), verify=str(self.tls_dir / "tls.crt"), **kwargs)

    async def connect(self, token: str, **kwargs) -> Client:
        kwargs.setdefault("origin", ORIGIN)
        return await Client.open(self, token, ssl=self.ssl, **kwargs)


class PingRecorder(ClientConnection):
    """A websockets client connection that notes when each server ping arrives (the library
    answers it as usual). Passed as connect()'s documented `create_connection` factory."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pings: list[float] = []
        self.ping_arrived = asyncio.Event()

    def process_event(self, event) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.pings.append(time.monotonic())
            self.ping_arrived.set()
        super().process_event(event)

    async def pings_spanning(self, seconds: float, timeout: float) -> int:
        """Waits for server pings until they span `seconds` from the first one; their number."""
        first = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.pings:
                first = first or self.pings[0]
                if self.pings[-1] - first >= seconds:
                    return len(self.pings)
            self.ping_arrived.clear()
            remaining = deadline - loop.time()
            assert remaining > 0, f"pings did not span {seconds} s within {timeout} s: {len(self.pings)} pings"
            await asyncio.wait_for(self.ping_arrived.wait(), remaining)


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory) -> Path:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def cluster2(tmp_path_factory) -> Iterable[Cluster]:
    """Two instances of one cluster over the real PostgreSQL and Kafka."""
    require_nginx()
    c = Cluster(
        tmp_path_factory.mktemp("cluster"),
        2,
        args=["--ping-interval", str(PING_INTERVAL), "--allowed-origins", ORIGIN],
    ).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def proxy(cluster2, tls_dir, tmp_path_factory) -> Iterable[Nginx]:
    """deploy/nginx.conf as it is (time-outs included) in front of the two instances."""
    n = Nginx(tmp_path_factory.mktemp("nginx"), [s.port for s in cluster2.servers], tls_dir).start()
    yield n
    n.stop()


# --------------------------------------------------------------------------------------------------
# the configuration files


def test_nginx_accepts_the_configuration(tls_dir, tmp_path):
    n = Nginx(tmp_path, [free_port(), free_port(), free_port()], tls_dir)
    out = n.check()
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr


def seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "": 1}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|)", value)
    assert m, f"not an nginx time: {value}"
    return float(m.group(1)) * units[m.group(2)]


def test_the_proxy_time_outs_exceed_the_default_ping_interval():
    require_binary()
    help_text = subprocess.run([str(BINARY), "--help"], capture_output=True, text=True, timeout=10).stdout
    ping = float(re.search(r"--ping-interval arg \(=([\d.]+)\)", help_text).group(1))
    conf = NGINX_CONF.read_text()
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        values = re.findall(rf"^\s*{directive} (\S+);", conf, re.M)
        assert len(values) == 1, (directive, values)
        assert seconds(values[0]) > 2 * ping, f"{directive} {values[0]} must exceed twice the ping interval {ping} s"


def test_compose_file_runs_three_instances_of_one_cluster_behind_this_nginx_conf():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    instances = sorted(name for name in services if re.fullmatch(r"chat-engine-\d+", name))
    upstream = sorted(re.findall(r"server (chat-engine-\d+):8000", NGINX_CONF.read_text()))
    assert instances == upstream == ["chat-engine-1", "chat-engine-2", "chat-engine-3"], (instances, upstream)

    def env(name):
        e = services[name].get("environment", {})
        return e if isinstance(e, dict) else dict(item.split("=", 1) for item in e)

    shared = ["CHAT_DATABASE_URL", "CHAT_KAFKA_BROKERS", "CHAT_KAFKA_TOPIC_PREFIX", "CHAT_JWT_SECRET_FILE", "CHAT_LISTEN"]
    first = env(instances[0])
    for name in instances:
        e = env(name)
        for key in shared:
            assert e.get(key) == first.get(key) and e.get(key), (name, key, e.get(key))
        assert services[name].get("healthcheck") or "HEALTHCHECK" in (REPO_ROOT / "Dockerfile").read_text()
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["kafka"]["condition"] == "service_healthy", name
    assert first["CHAT_LISTEN"].endswith(":8000")
    assert len({env(n)["CHAT_NODE_ID"] for n in instances}) == len(instances), "node ids must differ"
    nginx = services["nginx"]
    assert any(str(v).startswith("./nginx.conf:") for v in nginx["volumes"]), nginx["volumes"]
    for name in instances:
        assert nginx["depends_on"][name]["condition"] == "service_healthy"
    for name in ("postgres", "kafka"):
        assert services[name].get("healthcheck"), f"{name} needs a healthcheck for depends_on"


def test_docker_compose_validates_the_compose_file():
    """Debian's docker-compose checks the file against the Compose schema; no engine needed."""
    tool = shutil.which("docker-compose")
    if not tool:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (scripts/install-deps.sh installs it)", pytrace=False)
        pytest.skip("docker-compose is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    out = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60, cwd=DEPLOY, env=env
    )
    assert out.returncode == 0, out.stderr


# --------------------------------------------------------------------------------------------------
# traffic through nginx


async def test_two_users_through_nginx_land_on_different_instances_and_talk_both_ways(proxy, cluster2):
    r_alice = proxy.api("POST", "/api/user/v1/create", json={"username": unique_name("alice")})
    r_bob = proxy.api("POST", "/api/user/v1/create", json={"username": unique_name("bob")})
    assert r_alice.status_code == r_bob.status_code == 201, (r_alice.text, r_bob.text)
    alice, bob = r_alice.json()["username"], r_bob.json()["username"]
    a = await proxy.connect(mint(alice))
    b = await proxy.connect(mint(bob))  # least_conn: the instance without alice's connection
    nodes = {s.node_id for s in cluster2.servers}
    assert a.hello["node"] in nodes and b.hello["node"] in nodes
    assert a.hello["node"] != b.hello["node"], (a.hello, b.hello)

    await a.send_message("m1", bob, "through nginx")
    sent = await a.sent("m1")
    got = await b.expect("message", timeout=10)
    assert (got["from"], got["body"], got["msg_id"]) == (alice, "through nginx", sent["msg_id"])
    await b.send_message("r1", alice, "and back")
    await b.sent("r1")
    back = await a.expect("message", lambda f: f["from"] == bob, timeout=10)
    assert back["body"] == "and back"
    await close_all(a, b)


async def test_the_rest_api_answers_through_nginx(proxy):
    name = unique_name("rest")
    created = proxy.api("POST", "/api/user/v1/create", json={"username": name})
    assert created.status_code == 201, created.text
    assert proxy.api("GET", f"/api/user/v1/{name}").json()["username"] == name
    assert name in [u["username"] for u in proxy.api("GET", "/api/user/v1/list").json()["users"]]
    error_body(proxy.api("GET", "/api/user/v1/no_such_user_here"), "not_found")

    token = mint(name)
    client = await proxy.connect(token)
    await client.send_message("n1", name, "a note to self")
    await client.sent("n1")
    history = proxy.api(
        "GET", "/api/message/v1/history", params={"with": name}, headers={"Authorization": f"Bearer {token}"}
    )
    assert history.status_code == 200, history.text
    assert [m["body"] for m in history.json()["messages"]] == ["a note to self"]
    assert proxy.api("GET", "/api/message/v1/history", params={"with": name}).status_code == 401
    for path in ("/healthz", "/readyz"):
        assert proxy.api("GET", path).status_code == 200, path
    assert proxy.api("GET", "/metrics").status_code == 403  # scraped from each instance, not the public
    await client.close()


@pytest.mark.parametrize(
    "origin, status", [(ORIGIN, 101), ("https://elsewhere.example", 403)], ids=["listed origin", "other origin"]
)
async def test_the_origin_check_sees_the_browser_origin_through_nginx(proxy, origin, status):
    name = unique_name("origin")
    assert proxy.api("POST", "/api/user/v1/create", json={"username": name}).status_code == 201
    if status == 101:
        client = await proxy.connect(mint(name), origin=origin)
        assert client.hello["user"] == name
        await client.close()
    else:
        with pytest.raises(InvalidStatus) as refused:
            await proxy.connect(mint(name), origin=origin)
        assert refused.value.response.status_code == status


@pytest.mark.parametrize(
    "proxy_timeout, stays_open",
    [(6 * PING_INTERVAL, True), (PING_INTERVAL / 3, False)],
    ids=["time-out over the ping interval: the pings keep it open", "time-out under it: nginx cuts it"],
)
async def test_an_idle_websocket_through_nginx_lives_as_long_as_pings_come_faster_than_its_time_outs(
    cluster2, tls_dir, tmp_path, proxy_timeout, stays_open
):
    n = Nginx(tmp_path / "nginx", [s.port for s in cluster2.servers], tls_dir, proxy_timeout=proxy_timeout).start()
    try:
        name = unique_name("idle")
        assert n.api("POST", "/api/user/v1/create", json={"username": name}).status_code == 201
        client = await n.connect(mint(name), create_connection=PingRecorder)
        if stays_open:
            # Nothing but pings and pongs cross for two proxy time-outs.
            count = await client.ws.pings_spanning(2 * proxy_timeout, timeout=30)
            assert count >= 3 and not client.closed.is_set()
            await client.ping()
            await client.send_message("i1", name, "still here")
            await client.sent("i1")
            await client.close()
        else:
            await client.wait_closed(timeout=10)
            assert client.close_code == 1006, client.close_code  # a dropped TCP connection, no close frame
    finally:
        n.stop()


# --------------------------------------------------------------------------------------------------
# the dashboard and the documentation against /metrics and --help


def exposed_series(text: str) -> dict[str, set[str]]:
    """/metrics parsed by prometheus_client: {family: the series names it exposes}, a histogram's
    _bucket, _sum and _count and a counter's _total included."""
    return {f.name: {s.name for s in f.samples} for f in text_string_to_metric_families(text)}


GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$instance": "x", "$job": "x"}


def promql_metric_names(expr: str) -> set[str]:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace("${" + variable[1:] + "}", value).replace(variable, value)
    assert "$" not in expr, f"unknown dashboard variable in {expr!r}"
    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name in {expr!r}"
            names.add(node.name)
        elif isinstance(node, promql_parser.MatrixSelector):
            visit(node.vector_selector)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                visit(arg)
        elif isinstance(node, promql_parser.BinaryExpr):
            visit(node.lhs)
            visit(node.rhs)
        elif isinstance(node, (promql_parser.AggregateExpr, promql_parser.ParenExpr, promql_parser.UnaryExpr,
                               promql_parser.SubqueryExpr)):
            visit(node.expr)
        elif not isinstance(node, (promql_parser.NumberLiteral, promql_parser.StringLiteral)):
            raise AssertionError(f"unexpected PromQL node {type(node).__name__} in {expr!r}")

    visit(promql_parser.parse(expr))
    return names


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        m = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query["query"] if isinstance(query, dict) else query or "")
        if m:
            out.append((f"variable {variable['name']}", m.group(1)))
    return out


def test_the_dashboard_queries_only_metrics_that_metrics_exposes(server):
    families = exposed_series(server.api("GET", "/metrics").text)
    exposed = set().union(*families.values())
    queries = dashboard_queries()
    assert len(queries) >= 8, queries
    used: set[str] = set()
    for title, expr in queries:
        names = promql_metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        assert names <= exposed, f"{title}: {sorted(names - exposed)} not exposed by /metrics"
        used |= names
    unused = {family for family, series in families.items() if not series & used}
    assert not unused, f"metrics without a dashboard panel: {sorted(unused)}"


def test_the_promql_walker_finds_every_name_and_tells_a_family_from_its_series(server):
    exposed = set().union(*exposed_series(server.api("GET", "/metrics").text).values())
    expr = 'histogram_quantile(0.99, sum by (le) (rate(chat_accept_to_durable_seconds_bucket[$__rate_interval]))) / on() group_left sum(chat_connections)'
    assert promql_metric_names(expr) == {"chat_accept_to_durable_seconds_bucket", "chat_connections"}
    assert not promql_metric_names("rate(chat_accept_to_durable_seconds[5m])") <= exposed  # a family, not a series


def test_operations_md_lists_every_flag_environment_variable_and_metric(server):
    require_binary()
    help_text = subprocess.run([str(BINARY), "--help"], capture_output=True, text=True, timeout=10).stdout
    flags = set(re.findall(r"^\s+(?:-\w \[ )?(--[a-z][a-z-]+)", help_text, re.M)) - {"--help"}
    doc = OPERATIONS.read_text()
    rows = re.findall(r"^\| (`--[a-z-]+`)? ?\| `(CHAT_[A-Z_]+)` \|", doc, re.M)
    documented_flags = {flag.strip("`") for flag, _ in rows if flag}
    assert documented_flags == flags, f"missing: {flags - documented_flags}, stale: {documented_flags - flags}"
    for flag, env in rows:
        if flag:
            assert env == "CHAT_" + flag.strip("`")[2:].upper().replace("-", "_"), (flag, env)
    source_env = set()
    for path in (REPO_ROOT / "src").rglob("*.cpp"):
        source_env |= set(re.findall(r'getenv\("(CHAT_[A-Z_]+)"\)', path.read_text()))
    assert source_env and source_env <= {env for _, env in rows}, source_env - {env for _, env in rows}

    text = server.api("GET", "/metrics").text
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    section = doc.split("## 7. Metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(chat_[a-z_]+)", section, re.M))
    assert documented == families, f"missing: {families - documented}, stale: {documented - families}"


def test_the_nginx_example_in_operations_md_is_deploy_nginx_conf():
    doc = OPERATIONS.read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", doc, re.S)
    assert blocks == [NGINX_CONF.read_text()], "docs/operations.md's nginx block must be deploy/nginx.conf, verbatim"

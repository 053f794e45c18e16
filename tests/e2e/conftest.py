"""End-to-end harness: starts the real `chat-engine` binary and talks to it over real sockets.

Clients are third-party libraries (websockets, requests, PyJWT), so these tests check the public
contract of docs/protocol.md and issue 2, not the server's own view of it.

Pieces:
  * Server        one running binary: fresh --data-dir, free port, known JWT secret, stderr to a file.
  * server        a module-scoped default server (tests on it use their own unique user names).
  * start_server  a factory for tests that need flags, environment or a process limit of their own.
  * Client        a WebSocket client that reads in the background and lets a test wait for a frame.
  * mint()        tokens signed with PyJWT; every minted token is checked to be absent from server logs.
Every frame a Client receives is validated against docs/schema/server-frame.json (frame_schema.py):
a frame the schema refuses fails the test that received it.
Async tests (`async def test_...`) are run by the hook below with asyncio.run under a time bound.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

REPO_ROOT = Path(__file__).resolve().parents[2]

# Set by scripts/test-sanitized.sh: the server under test is an ASan/UBSan or TSan build. Its memory
# figures are the sanitizer's (ASan keeps 256 MiB of freed memory in quarantine), and UBSan's own
# checks need file descriptors (it probes memory with a pipe), so tests of either skip those parts.
SANITIZED = os.environ.get("CHAT_SANITIZED", "")

# The repository root holds jwt.py (the token-minting script), which would shadow PyJWT's `jwt`
# package when pytest runs as `python -m pytest` from the root (the root is then on sys.path).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO_ROOT]
if "jwt" in sys.modules and Path(getattr(sys.modules["jwt"], "__file__", "") or "").parent == REPO_ROOT:
    del sys.modules["jwt"]

import frame_schema  # noqa: E402
import jwt as pyjwt  # noqa: E402  (PyJWT)
import pytest
import requests
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

BINARY = Path(os.environ.get("CHAT_ENGINE_BIN", REPO_ROOT / "build" / "chat-engine"))
if not BINARY.is_absolute():
    BINARY = REPO_ROOT / BINARY

# 64 characters, recognisable in a log if it ever leaks there.
SECRET = "e2e-secret-" + hashlib.sha256(b"chat-engine e2e suite").hexdigest()[:53]
assert len(SECRET) == 64

ASYNC_TEST_TIMEOUT = 120.0  # upper bound for one async test; a hang fails instead of stalling CI
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0  # the issue: exit within 10 s of SIGTERM


# --------------------------------------------------------------------------------------------------
# async tests without a plugin


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_TIMEOUT))
        return True
    return None


# --------------------------------------------------------------------------------------------------
# the binary


def require_binary() -> None:
    """Skip when there is no binary to test, except under CI, where a missing binary is a failure."""
    if BINARY.exists():
        return
    message = f"chat-engine binary not found at {BINARY} (build it, or set CHAT_ENGINE_BIN)"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI is set, so a missing binary fails the suite", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LIVE_SERVERS: list["Server"] = []  # for attaching logs to failure reports
_server_numbers = itertools.count(1)


class Server:
    """One `chat-engine` process. Not thread-safe; a test owns it."""

    def __init__(
        self,
        workdir: Path,
        args: Iterable[str] = (),
        env: dict[str, str] | None = None,
        secret: str | None = SECRET,
        preexec_fn: Callable[[], None] | None = None,
        data_dir: Path | None = None,
    ):
        self.number = next(_server_numbers)
        self.workdir = workdir
        self.data_dir = data_dir or workdir / f"data-{self.number}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.secret = secret
        self.preexec_fn = preexec_fn
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = workdir / f"server-{self.number}.log"
        self.starts = 0
        self.exit_codes: list[int] = []

    # ---- process control

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
        if self.secret is not None:
            env["CHAT_JWT_SECRET"] = self.secret
        env.update(self.extra_env)
        return env

    def spawn(self) -> subprocess.Popen:
        """Starts the process without waiting for readiness."""
        require_binary()
        self.port = free_port()
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start {self.starts}: port {self.port} args {self.args}\n".encode())
        log.flush()
        cmd = [
            str(BINARY),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.data_dir),
            *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=self.preexec_fn,
            cwd=self.workdir,
        )
        log.close()
        if self not in _LIVE_SERVERS:
            _LIVE_SERVERS.append(self)
        return self.proc

    def start(self) -> "Server":
        for attempt in range(3):  # a free port can be taken between probing and binding
            self.spawn()
            try:
                self.wait_ready()
                return self
            except ServerExited:
                if attempt == 2 or "in use" not in self.log_text().lower():
                    raise
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerExited(
                    f"server exited with {self.proc.returncode} before it was ready\n{self.log_tail()}"
                )
            try:
                r = http().get(self.url("/readyz"), timeout=1)
                if r.status_code == 200:
                    return
                last = r.status_code
            except requests.RequestException as e:
                last = e
            time.sleep(0.05)  # polling interval of a bounded wait for readiness
        raise AssertionError(f"server not ready within {timeout}s (last: {last})\n{self.log_tail()}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then the exit code; kills and fails if it does not exit in time."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server did not exit within {timeout}s of SIGTERM\n{self.log_tail()}")
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.exit_codes.append(self.proc.returncode)

    def restart(self) -> "Server":
        """Starts again on the same data directory (a new port)."""
        assert not self.running()
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in _LIVE_SERVERS:
            _LIVE_SERVERS.remove(self)

    # ---- addresses and logs

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ws_url(self, query: str = "", path: str = "/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    def log_text(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_text().splitlines()
        return f"--- {self.log_path} (last {lines} lines)\n" + "\n".join(text[-lines:])

    def assert_log_clean(self) -> None:
        """The issue: logs never contain tokens or secrets."""
        text = self.log_text()
        if self.secret:
            assert self.secret not in text, f"the JWT secret appears in {self.log_path}"
        for token in MINTED_TOKENS:
            signature = token.rsplit(".", 1)[-1]
            assert token not in text, f"a token appears in {self.log_path}"
            if len(signature) >= 20:
                assert signature not in text, f"a token's signature appears in {self.log_path}"

    # ---- REST

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return http().request(method, self.url(path), **kwargs)

    def create_user(self, name: str, **kwargs) -> requests.Response:
        return self.api("POST", "/api/user/v1/create", json={"username": name}, **kwargs)

    def get_user(self, name: str, **kwargs) -> requests.Response:
        return self.api("GET", f"/api/user/v1/{name}", **kwargs)

    def new_user(self, prefix: str = "u") -> tuple[str, str]:
        """A created user with a unique name and a valid one-hour token."""
        name = unique_name(prefix)
        r = self.create_user(name)
        assert r.status_code == 201, (r.status_code, r.text)
        return name, mint(name)

    def metrics(self) -> dict[tuple[str, frozenset], float]:
        r = self.api("GET", "/metrics")
        assert r.status_code == 200, r.text
        return parse_metrics(r.text)

    # ---- WebSocket

    async def connect(self, token: str | None, **kwargs) -> "Client":
        return await Client.open(self, token, **kwargs)


class ServerExited(AssertionError):
    pass


_session = None


def http() -> requests.Session:
    """A session that ignores proxy variables: everything here is on loopback."""
    global _session
    if _session is None:
        _session = requests.Session()
        _session.trust_env = False
    return _session


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterable[Server]:
    """A default server shared by one module's tests (each test uses its own user names)."""
    require_binary()
    s = Server(tmp_path_factory.mktemp("server")).start()
    yield s
    s.stop()
    s.assert_log_clean()


@pytest.fixture
def start_server(tmp_path) -> Iterable[Callable[..., Server]]:
    """start_server(args=[...], env={...}, preexec_fn=..., start=True) -> Server, stopped afterwards."""
    require_binary()
    started: list[Server] = []

    def factory(args: Iterable[str] = (), start: bool = True, **kwargs) -> Server:
        s = Server(tmp_path, args=args, **kwargs)
        started.append(s)
        return s.start() if start else s

    yield factory
    for s in started:
        s.stop()
    for s in started:
        s.assert_log_clean()


# Frames a Client received during the running test that docs/schema/server-frame.json refuses.
SCHEMA_VIOLATIONS: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fails a test whose clients received a frame the schema refuses, even one no test waited for."""
    SCHEMA_VIOLATIONS.clear()
    result = yield
    if SCHEMA_VIOLATIONS:
        listed = "\n".join(SCHEMA_VIOLATIONS[:10])
        raise AssertionError(f"{len(SCHEMA_VIOLATIONS)} frame(s) from the server break docs/schema:\n{listed}")
    return result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for s in list(_LIVE_SERVERS):
            report.sections.append((f"server {s.number} log", s.log_tail()))


# --------------------------------------------------------------------------------------------------
# names and tokens

_names = itertools.count(1)


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}_{next(_names)}_{secrets.token_hex(4)}"


MINTED_TOKENS: set[str] = set()


def remember(token: str) -> str:
    MINTED_TOKENS.add(token)
    return token


def mint(
    username: str | None,
    ttl: float = 3600,
    secret: str = SECRET,
    alg: str = "HS256",
    drop: Iterable[str] = (),
    iat: int | None = None,
    **claims: Any,
) -> str:
    """A PyJWT token with {"username", "iat", "exp"} without the `drop` claims, then `claims` set."""
    now = int(time.time())
    payload: dict[str, Any] = {"iat": now if iat is None else iat, "exp": int(now + ttl)}
    if username is not None:
        payload["username"] = username
    for key in drop:
        payload.pop(key, None)
    payload.update(claims)
    return remember(pyjwt.encode(payload, secret, algorithm=alg))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(header: dict | str, payload: dict, secret: str | None = SECRET, signature: str | None = None) -> str:
    """A token built by hand, for headers PyJWT refuses to write (alg "none", "hs256", not JSON).

    Signed with HMAC-SHA256 under `secret` unless `secret` is None (empty signature)."""
    header_text = header if isinstance(header, str) else json.dumps(header)
    signing_input = b64url(header_text.encode()) + "." + b64url(json.dumps(payload).encode())
    if signature is None:
        signature = (
            b64url(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())
            if secret is not None
            else ""
        )
    return remember(signing_input + "." + signature)


def token_exp(token: str) -> int:
    return pyjwt.decode(token, options={"verify_signature": False})["exp"]


# --------------------------------------------------------------------------------------------------
# metrics


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """Prometheus text format -> {(name, frozenset(labels)): value}."""
    out: dict[tuple[str, frozenset], float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if "{" in sample:
            name, _, rest = sample.partition("{")
            labels = {}
            for part in _split_labels(rest.rstrip("}")):
                k, _, v = part.partition("=")
                labels[k.strip()] = v.strip().strip('"')
        else:
            name, labels = sample, {}
        out[(name.strip(), frozenset(labels.items()))] = float(value)
    return out


def _split_labels(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def metric(samples: dict, name: str, **labels: str) -> float:
    """The value of one sample; 0 when the sample is absent (a counter not yet incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


# --------------------------------------------------------------------------------------------------
# WebSocket client


async def open_ws(server: Server, token: str | None = None, via: str = "header", **kwargs):
    """A websockets connection; raises InvalidStatus when the server refuses the handshake."""
    headers = dict(kwargs.pop("headers", {}) or {})
    path = kwargs.pop("path", "/ws")
    query = ""
    if token is not None:
        if via == "header":
            headers["Authorization"] = f"Bearer {token}"
        else:
            query = "token=" + token
    kwargs.setdefault("open_timeout", 10)
    kwargs.setdefault("close_timeout", 3)
    kwargs.setdefault("max_size", None)
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("proxy", None)
    kwargs.setdefault("compression", None)  # sizes on the wire are what the tests say they are
    return await ws_connect(server.ws_url(query, path), additional_headers=headers, **kwargs)


async def refused_status(server: Server, token: str | None, via: str = "header", **kwargs):
    """The status and JSON body of a refused handshake; fails if the handshake succeeds."""
    try:
        ws = await open_ws(server, token, via=via, **kwargs)
    except InvalidStatus as e:
        body = e.response.body or b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        return e.response.status_code, parsed
    await ws.close()
    raise AssertionError("the handshake was accepted; a refusal was expected")


def brief(value, limit: int = 120):
    """A frame (or list of frames) with long strings shortened, for readable failure messages."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"...({len(value)} chars)"
    if isinstance(value, list):
        return [brief(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: brief(v, limit) for k, v in value.items()}
    return value


class Client:
    """A WebSocket connection read in the background; tests wait for frames by type and predicate.

    Every frame received is kept in `frames` (in order). `expect` takes the first frame not yet taken
    that matches, waiting for it up to a time-out. Not shared between event loops.

    Every frame is also validated against docs/schema/server-frame.json as it is parsed: a frame the
    schema refuses (or a binary or non-JSON one) is kept in `schema_violations`, makes the next
    `expect` fail with the schema's error, and fails the test at its end (pytest_runtest_call).
    """

    def __init__(self, ws, user: str | None):
        self.ws = ws
        self.user = user
        self.frames: list[dict] = []
        self._taken: set[int] = set()
        self._cond = asyncio.Condition()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.hello: dict | None = None
        self.schema_violations: list[str] = []
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, server: Server, token: str | None, via: str = "header", **kwargs) -> "Client":
        ws = await open_ws(server, token, via=via, **kwargs)
        user = None
        if token:
            try:
                claims = pyjwt.decode(token, options={"verify_signature": False})
                user = claims.get("username") or claims.get("sub")
            except pyjwt.PyJWTError:
                pass
        client = cls(ws, user)
        client.hello = await client.expect("hello", timeout=5)
        assert client.frames[0] is client.hello, f"first frame was not hello: {client.frames[0]}"
        return client

    async def _read_loop(self) -> None:
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    frame = {"type": "_binary", "data": raw}
                    self._violation(f"a binary frame of {len(raw)} bytes; the server sends JSON text only")
                else:
                    try:
                        frame = json.loads(raw)
                    except ValueError:
                        frame = {"type": "_not_json", "text": raw}
                        self._violation(f"a text frame that is not JSON: {brief(raw)!r}")
                    else:
                        problem = frame_schema.problem(frame, "server")
                        if problem is not None:
                            self._violation(problem)
                async with self._cond:
                    self.frames.append(frame)
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    def _violation(self, problem: str) -> None:
        message = f"{self.user}: {problem}"
        self.schema_violations.append(message)
        SCHEMA_VIOLATIONS.append(message)

    def _check_schema(self) -> None:
        if self.schema_violations:
            raise AssertionError(f"the server sent a frame that breaks docs/schema: {self.schema_violations[0]}")

    # ---- sending

    async def send(self, frame: dict | str | bytes) -> None:
        await self.ws.send(json.dumps(frame) if isinstance(frame, dict) else frame)

    async def send_message(self, cid: str, to: str, body: str) -> None:
        await self.send({"type": "send", "id": cid, "to": to, "body": body})

    # ---- receiving

    async def expect(
        self, type_: str, pred: Callable[[dict], bool] | None = None, timeout: float = 5.0
    ) -> dict:
        """The first untaken frame of this type matching pred; fails after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._cond:
            while True:
                self._check_schema()
                for i, f in enumerate(self.frames):
                    if i not in self._taken and f.get("type") == type_ and (pred is None or pred(f)):
                        self._taken.add(i)
                        return f
                if self.closed.is_set():
                    raise AssertionError(
                        f"{self.user}: connection closed (code {self.close_code}) while waiting for "
                        f"{type_!r}; last frames: {brief(self.frames[-5:])}"
                    )
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.user}: no {type_!r} frame within {timeout}s; last frames: {brief(self.frames[-5:])}"
                    )
                try:
                    await asyncio.wait_for(self._cond.wait(), remaining)
                except asyncio.TimeoutError:
                    pass

    async def expect_error(self, code: str, cid: str | None = None, timeout: float = 5.0) -> dict:
        pred = (lambda f: f.get("id") == cid) if cid is not None else None
        err = await self.expect("error", pred, timeout)
        assert err.get("code") == code, f"expected error {code}, got {err}"
        assert isinstance(err.get("message"), str)
        return err

    async def outcome(self, cid: str, timeout: float = 5.0) -> dict:
        """What answered the send with client id `cid`: its `sent` or its `error` frame."""
        return await self.expect_any(
            [("sent", lambda f: f.get("id") == cid), ("error", lambda f: f.get("id") == cid)], timeout
        )

    async def sent(self, cid: str, timeout: float = 5.0) -> dict:
        """The `sent` acknowledgement for client id `cid` (fails on an error for that id)."""
        frame = await self.outcome(cid, timeout)
        assert frame["type"] == "sent", f"send {cid} was refused: {frame}"
        return frame

    async def expect_any(self, choices: list[tuple[str, Callable[[dict], bool]]], timeout: float = 5.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._cond:
            while True:
                self._check_schema()
                for i, f in enumerate(self.frames):
                    if i in self._taken:
                        continue
                    for type_, pred in choices:
                        if f.get("type") == type_ and pred(f):
                            self._taken.add(i)
                            return f
                if self.closed.is_set():
                    raise AssertionError(
                        f"{self.user}: connection closed (code {self.close_code}) while waiting for "
                        f"{[c[0] for c in choices]}; last frames: {brief(self.frames[-5:])}"
                    )
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.user}: none of {[c[0] for c in choices]} within {timeout}s; "
                        f"last frames: {brief(self.frames[-5:])}"
                    )
                try:
                    await asyncio.wait_for(self._cond.wait(), remaining)
                except asyncio.TimeoutError:
                    pass

    def forget(self) -> None:
        """Drops every frame received so far (for long streams whose frames were already checked)."""
        self.frames.clear()
        self._taken.clear()

    def all(self, type_: str) -> list[dict]:
        return [f for f in self.frames if f.get("type") == type_]

    async def ping(self, timeout: float = 5.0) -> None:
        """A JSON ping answered by a pong: the connection is open and usable."""
        await self.send({"type": "ping"})
        await self.expect("pong", timeout=timeout)

    async def sync(self, after: int = 0, limit: int | None = None, timeout: float = 10.0):
        """One sync request: (message frames with seq > after seen by the time of `synced`, synced)."""
        frame: dict[str, Any] = {"type": "sync", "after": after}
        if limit is not None:
            frame["limit"] = limit
        start = len(self.frames)
        await self.send(frame)
        synced = await self.expect("synced", lambda f: f.get("after") == after, timeout)
        index = next(i for i, f in enumerate(self.frames) if f is synced)
        messages = [f for f in self.frames[start:index] if f.get("type") == "message" and f["seq"] > after]
        return messages, synced

    async def sync_all(self, after: int = 0, limit: int = 1000, timeout: float = 20.0) -> dict[int, dict]:
        """Syncs page by page until `more` is false: {seq: message}."""
        entries: dict[int, dict] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            messages, synced = await self.sync(after, limit, timeout=max(0.1, deadline - loop.time()))
            for m in messages:
                entries.setdefault(m["seq"], m)
            if not synced["more"]:
                return entries
            assert synced["upto"] > after, f"sync made no progress: {synced}"
            after = synced["upto"]

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.user}: connection not closed within {timeout}s") from None
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self.closed.wait()
        await self._reader


async def close_all(*clients: Client) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = ""):
    """Polls a condition that has no event of its own (e.g. a REST view of presence) under a bound."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s: {what or predicate}")
        await asyncio.sleep(interval)


def wait_until_sync(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s: {what or predicate}")
        time.sleep(interval)


def error_body(r: requests.Response, code: str | None = None) -> dict:
    """Asserts the issue's error shape {"error":{"code","message"}} and returns the inner object."""
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"].get("code"), str) and isinstance(body["error"].get("message"), str), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]

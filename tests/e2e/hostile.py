"""Helpers of the hostile-input tables (test_hostile_*.py): exact bytes on a raw socket, responses
parsed by http.client, and the healthy client that must be served while the abuse goes on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.client
import io
import json

import requests

from conftest import SECRET, Server, remember

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key: base64 of 16 bytes


def b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: str, payload: str, key: bytes | str | None = SECRET, digest=hashlib.sha256) -> str:
    """header.payload from JSON text written as is (duplicates, odd numbers), HMAC-signed under `key`
    (unsigned when None)."""
    signing_input = b64url(header) + "." + b64url(payload)
    if key is None:
        return remember(signing_input + ".")
    if isinstance(key, str):
        key = key.encode()
    return remember(signing_input + "." + b64url(hmac.new(key, signing_input.encode(), digest).digest()))


def upgrade_request(path: str = "/ws", token: str | None = None, *, version: str = "HTTP/1.1",
                    headers: list[tuple[str, str]] | None = None, method: str = "GET",
                    key: str = WS_KEY, extra: list[tuple[str, str]] = ()) -> bytes:
    """A WebSocket upgrade request; `headers` replaces the upgrade headers when given, `extra` adds
    to them."""
    if headers is None:
        headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
                   ("Sec-WebSocket-Version", "13")]
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in [*headers, *extra]]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def request(method: str, path: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
            close: bool = False) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    chunked = any(k.lower() == "transfer-encoding" for k, _ in headers or [])
    if (body or method in ("POST", "PUT")) and not chunked:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Unclosable(io.BytesIO):
    def close(self):  # HTTPResponse closes its file after a "Connection: close" response's body
        pass


class _Recorded:
    """What http.client.HTTPResponse reads from: bytes already received."""

    def __init__(self, data: bytes):
        self.file = _Unclosable(data)

    def makefile(self, mode):
        return self.file


def parse_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Every HTTP response in `data`, in order: (status, lower-case headers, body). Stops after a 101,
    whose connection then speaks WebSocket."""
    recorded = _Recorded(data)
    out = []
    while recorded.file.tell() < len(data):
        r = http.client.HTTPResponse(recorded)
        r.begin()
        headers = {k.lower(): v for k, v in r.getheaders()}
        if r.status == 101:
            out.append((101, headers, b""))
            break
        out.append((r.status, headers, r.read()))
    return out


async def exchange(port: int, data: bytes, timeout: float = 10.0, responses: int | None = None) -> bytes:
    """Writes `data` (while reading, so a server that answers before the end is still heard) and
    reads until the server closes the connection, or until a 101 response's head (the connection
    then speaks WebSocket and stays open), or until `responses` complete responses when given (a
    keep-alive connection stays open). Fails if none of these happens within `timeout`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def write():
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server refused and closed before taking everything: what it said is read below

    sender = asyncio.create_task(write())
    try:
        return await read_to_eof(reader, timeout, responses)
    finally:
        await sender
        writer.close()


def _complete(data: bytes) -> list:
    try:
        return parse_responses(data)
    except (http.client.HTTPException, ValueError):
        return []  # not complete yet


async def read_to_eof(reader: asyncio.StreamReader, timeout: float, responses: int | None = None) -> bytes:
    chunks = []
    try:
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
                data = b"".join(chunks)
                upgraded = data.find(b"HTTP/1.1 101 ")
                if upgraded >= 0 and b"\r\n\r\n" in data[upgraded:]:
                    break
                if responses is not None and len(_complete(data)) >= responses:
                    break
    except TimeoutError:
        raise AssertionError(f"the server did not close the connection within {timeout}s "
                             f"(received {sum(map(len, chunks))} bytes)") from None
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def json_error(response: tuple[int, dict[str, str], bytes]) -> dict:
    """The {"error":{"code","message"}} body of a refusal."""
    status, headers, body = response
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:200])
    parsed = json.loads(body)
    assert set(parsed) == {"error"}, parsed
    assert isinstance(parsed["error"]["code"], str) and isinstance(parsed["error"]["message"], str), parsed
    return parsed["error"]


def _fresh_get(url: str) -> requests.Response:
    session = requests.Session()  # a connection of its own, never a reused keep-alive one
    session.trust_env = False
    with session:
        return session.get(url, timeout=10)


async def assert_served(server: Server, token: str, deadline: float = 15.0) -> None:
    """A healthy client is served while abuse goes on: a REST call on a new connection, then a
    WebSocket connect, ping and pong. `deadline` only guards against a hang; it measures nothing."""

    async def healthy():
        r = await asyncio.to_thread(_fresh_get, server.url("/healthz"))
        assert r.status_code == 200, r.text
        client = await server.connect(token)
        await client.ping()
        await client.close()

    try:
        await asyncio.wait_for(healthy(), deadline)
    except TimeoutError:
        raise AssertionError(f"a healthy client was not served within {deadline}s during the abuse") from None

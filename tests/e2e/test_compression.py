"""permessage-deflate (RFC 7692): negotiated when the client offers it and --permessage-deflate is on
(the default), always without context takeover; never with the flag off.

The wire tests speak WebSocket by hand so that the compression bit (RSV1) and the deflated bytes
are seen as they are; the library tests check that a stock client (python `websockets`, which
offers permessage-deflate as browsers do) talks to a client that does not compress.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import zlib

import pytest

from conftest import Client, close_all, open_ws
from hostile import upgrade_request

TAIL = b"\x00\x00\xff\xff"  # RFC 7692 7.2.1: removed by the sender, appended by the receiver


class RawWs:
    """A hand-made WebSocket client over a blocking socket: sees RSV1 and the raw payload."""

    def __init__(self, port: int, token: str, extensions: str | None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        offer = [("Sec-WebSocket-Extensions", extensions)] if extensions else []
        self.sock.sendall(upgrade_request(f"/ws?token={token}", extra=offer))
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101"), lines[0]
        self.headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_frame(self) -> tuple[bool, int, bytes]:
        """(rsv1, opcode, payload) of one unfragmented frame."""
        b0, b1 = self._read(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        assert b0 & 0x80, "a fragmented frame; the server sends every message in one frame"
        return bool(b0 & 0x40), b0 & 0x0F, self._read(length)

    def read_text(self) -> tuple[bool, dict]:
        """(was it compressed, the JSON) of the next text message; each is inflated alone."""
        rsv1, opcode, payload = self.read_frame()
        assert opcode == 1, f"opcode {opcode}"
        if rsv1:
            payload = zlib.decompressobj(wbits=-15).decompress(payload + TAIL)
        return rsv1, json.loads(payload)

    def send_text(self, text: str, compress: bool) -> None:
        payload = text.encode()
        if compress:
            c = zlib.compressobj(wbits=-15)
            payload = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
            assert payload.endswith(TAIL)
            payload = payload[: -len(TAIL)]
        mask = os.urandom(4)
        header = bytes([0x80 | (0x40 if compress else 0) | 0x1])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        self.sock.close()


def extension_params(header: str) -> list[str]:
    return [p.strip() for p in header.split(";")]


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate",
        "permessage-deflate; client_max_window_bits",  # what browsers send
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ],
)
async def test_deflate_is_negotiated_without_context_takeover_and_compresses_both_ways(server, offer):
    name, token = server.new_user("deflate")
    ws = await asyncio.to_thread(RawWs, server.port, token, offer)
    try:
        params = extension_params(ws.headers.get("sec-websocket-extensions", ""))
        assert params[0] == "permessage-deflate", ws.headers
        assert "server_no_context_takeover" in params and "client_no_context_takeover" in params, params

        compressed, hello = await asyncio.to_thread(ws.read_text)
        assert hello["type"] == "hello" and hello["user"] == name
        assert compressed, "hello left uncompressed"

        # A compressed client frame is understood: a long, compressible body to oneself comes back
        # compressed, smaller on the wire than as text.
        body = "chat text compresses well. " * 200
        await asyncio.to_thread(
            ws.send_text, json.dumps({"type": "send", "id": "c1", "to": name, "body": body}), True
        )
        seen = {}
        while {"message", "sent"} - seen.keys():
            compressed, frame = await asyncio.to_thread(ws.read_text)
            assert compressed, f"{frame['type']} left uncompressed"
            seen[frame["type"]] = frame
        assert seen["message"]["body"] == body and seen["sent"]["id"] == "c1"

        # Each message is deflated alone (no context takeover): a second, identical message is as
        # large on the wire as the first and inflates with a fresh decompressor (read_text).
        await asyncio.to_thread(ws.send_text, json.dumps({"type": "ping"}), False)
        _, pong = await asyncio.to_thread(ws.read_text)
        assert pong["type"] == "pong"
    finally:
        ws.close()


async def test_the_same_message_is_the_same_size_twice_without_context_takeover(server):
    name, token = server.new_user("deflate")
    ws = await asyncio.to_thread(RawWs, server.port, token, "permessage-deflate")
    try:
        await asyncio.to_thread(ws.read_frame)  # hello
        sizes = []
        for _ in range(2):
            await asyncio.to_thread(ws.send_text, json.dumps({"type": "ping"}), True)
            rsv1, opcode, payload = await asyncio.to_thread(ws.read_frame)
            assert rsv1 and opcode == 1
            assert json.loads(zlib.decompressobj(wbits=-15).decompress(payload + TAIL)) == {"type": "pong"}
            sizes.append(len(payload))
        assert sizes[0] == sizes[1], f"the second pong used the first one's history: {sizes}"
    finally:
        ws.close()


@pytest.mark.parametrize("setting", [("args", ["--permessage-deflate", "false"]), ("env", "0")], ids=["flag", "env"])
async def test_with_deflate_off_it_is_not_negotiated(start_server, setting):
    kind, value = setting
    s = start_server(args=value) if kind == "args" else start_server(env={"CHAT_PERMESSAGE_DEFLATE": value})
    name, token = s.new_user("plain")
    ws = await asyncio.to_thread(RawWs, s.port, token, "permessage-deflate; client_max_window_bits")
    try:
        assert "sec-websocket-extensions" not in ws.headers, ws.headers
        compressed, hello = await asyncio.to_thread(ws.read_text)
        assert not compressed and hello["type"] == "hello"
    finally:
        ws.close()
    # A stock client that offers deflate still talks, uncompressed.
    lib = await Client.open(s, token, compression="deflate")
    try:
        assert lib.ws.protocol.extensions == []
        await lib.ping()
    finally:
        await lib.close()


async def test_a_deflating_client_and_a_plain_one_exchange_messages(server):
    alice, alice_token = server.new_user("alice")
    bob, bob_token = server.new_user("bob")
    a = await Client.open(server, alice_token, compression="deflate")
    b = await Client.open(server, bob_token)  # no compression offered
    try:
        assert [type(e).__name__ for e in a.ws.protocol.extensions] == ["PerMessageDeflate"]
        assert b.ws.protocol.extensions == []
        body = "ünïcode and repetition " * 300
        await a.send_message("m1", bob, body)
        got = await b.expect("message", lambda f: f["from"] == alice)
        assert got["body"] == body
        await b.send_message("r1", alice, body[::-1])
        got = await a.expect("message", lambda f: f["from"] == bob)
        assert got["body"] == body[::-1]
        await a.sent("m1")
    finally:
        await close_all(a, b)


async def test_a_compressed_message_over_the_limit_inflated_closes_with_1009(start_server):
    # The limit counts inflated bytes: a small compressed frame cannot smuggle in a large message.
    s = start_server(args=["--max-message-bytes", "4096"])
    _, token = s.new_user("bomb")
    ws = await asyncio.to_thread(RawWs, s.port, token, "permessage-deflate")
    try:
        await asyncio.to_thread(ws.read_frame)  # hello
        await asyncio.to_thread(ws.send_text, json.dumps({"type": "ping", "pad": "a" * 100_000}), True)
        while True:
            _, opcode, payload = await asyncio.to_thread(ws.read_frame)
            if opcode == 8:
                break
        assert struct.unpack("!H", payload[:2])[0] == 1009
    finally:
        ws.close()

"""WebSocket conformance cases that a WebSocket library cannot be made to send: raw bytes on a socket.

Each case writes exactly the bytes it names (RFC 6455 framing, masked as a client must) and reads
what the server answers, so that the boundaries between TCP writes are part of the test: the
upgrade request and the first frame in one write, a frame split across writes, one byte per write,
a length header of 2^63-1, a bad Sec-WebSocket-Key, close codes no range allows. The Autobahn suite
(`make conformance`) covers the framing cases it can express; these are the rest.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time

import pytest

from hostile import upgrade_request

def frame(opcode: int, payload: bytes, fin: bool = True, length: int | None = None) -> bytes:
    """A masked client frame; `length` overrides the length field (the payload is sent as given)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def text(obj: dict) -> bytes:
    return frame(0x1, json.dumps(obj).encode())


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return frame(0x8, struct.pack("!H", code) + reason)


class Peer:
    """One raw connection: writes bytes, parses the server's (unmasked) frames."""

    def __init__(self, port: int, timeout: float = 10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            return False
        self.buf += chunk
        return bool(chunk)

    def read_head(self) -> bytes:
        """The HTTP response head; what follows it stays in the buffer."""
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), f"closed during the handshake: {self.buf[:200]!r}"
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head

    def _header(self) -> tuple[int, int] | None:
        """(header size, payload length) once the buffer holds the whole header."""
        if len(self.buf) < 2:
            return None
        n = self.buf[1] & 0x7F
        if n < 126:
            return 2, n
        size = 4 if n == 126 else 10
        if len(self.buf) < size:
            return None
        return size, int.from_bytes(self.buf[2:size], "big")

    def read_frame(self) -> tuple[int, bytes] | None:
        """(opcode, payload) of the next frame, or None at the end of the stream."""
        while True:
            header = self._header()
            if header is not None:
                at, n = header
                if len(self.buf) >= at + n:
                    opcode, payload = self.buf[0] & 0x0F, self.buf[at:at + n]
                    assert not self.buf[1] & 0x80, "a server frame must not be masked"
                    self.buf = self.buf[at + n:]
                    return opcode, payload
            if not self._fill():
                return None

    def read_json(self, kind: str) -> dict:
        """The next text frame of `kind`, skipping others (presence, for example) but errors."""
        while True:
            got = self.read_frame()
            assert got is not None, f"closed while waiting for {kind}"
            opcode, payload = got
            assert opcode == 0x1, (opcode, payload)
            event = json.loads(payload)
            assert event.get("type") != "error" or kind == "error", event
            if event.get("type") == kind:
                return event

    def read_close(self) -> int | None:
        """The code of the server's close frame (skipping data frames), None if it sent none."""
        while True:
            got = self.read_frame()
            if got is None:
                return None
            opcode, payload = got
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005

    def close(self) -> None:
        self.sock.close()


def connected(server, prefix: str = "raw") -> tuple[str, Peer]:
    name, token = server.new_user(prefix)
    peer = Peer(server.port)
    peer.send(upgrade_request(token=token))
    assert peer.read_head().startswith(b"HTTP/1.1 101")
    peer.read_json("hello")
    return name, peer


def send_frame(to: str, id_: str) -> bytes:
    return text({"type": "send", "id": id_, "to": to, "body": "hi " + id_})


# ---- the first frames in the same TCP write as the upgrade


def test_a_frame_in_the_same_write_as_the_upgrade_is_read(server):
    name, token = server.new_user("same")
    peer = Peer(server.port)
    peer.send(upgrade_request(token=token) + send_frame(name, "s1") + send_frame(name, "s2"))
    assert peer.read_head().startswith(b"HTTP/1.1 101")
    peer.read_json("hello")
    assert peer.read_json("sent")["id"] == "s1"
    assert peer.read_json("sent")["id"] == "s2"
    peer.close()


def test_a_frame_split_between_the_upgrade_write_and_the_next_is_read(server):
    name, token = server.new_user("split")
    whole = send_frame(name, "s1")
    peer = Peer(server.port)
    peer.send(upgrade_request(token=token) + whole[:5])
    assert peer.read_head().startswith(b"HTTP/1.1 101")
    peer.read_json("hello")
    peer.send(whole[5:])
    assert peer.read_json("sent")["id"] == "s1"
    peer.close()


def test_one_byte_per_tcp_write_from_the_upgrade_to_a_close(server):
    name, token = server.new_user("bytewise")
    peer = Peer(server.port)
    for b in upgrade_request(token=token) + send_frame(name, "s1"):
        peer.send(bytes([b]))
    assert peer.read_head().startswith(b"HTTP/1.1 101")
    peer.read_json("hello")
    assert peer.read_json("sent")["id"] == "s1"
    for b in close_frame(1000, b"done"):
        peer.send(bytes([b]))
    assert peer.read_close() == 1000
    peer.close()


# ---- lengths and close codes


def test_a_length_header_of_2_to_the_63_minus_1_is_closed_with_1009_and_others_are_served(server):
    name, peer = connected(server, "huge")
    peer.send(frame(0x1, b"x" * 16, length=(1 << 63) - 1))
    assert peer.read_close() == 1009
    peer.close()
    other, healthy = connected(server, "after")
    healthy.send(send_frame(other, "ok"))
    assert healthy.read_json("sent")["id"] == "ok"
    healthy.close()


@pytest.mark.parametrize(
    "code, reason, answer",
    [
        (1000, b"bye", 1000),
        (4000, b"app", 4000),  # the private range is echoed
        (3000, b"", 3000),  # the registered range too
        (999, b"", 1002),
        (1005, b"", 1002),  # reserved: never on the wire
        (1016, b"", 1002),
        (2999, b"", 1002),
        (5000, b"", 1002),  # beyond every range of RFC 6455 section 7.4
        (65535, b"", 1002),
        (1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1000),  # valid UTF-8 reason
        (1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", 1007),  # a surrogate
        (4000, b"\xff", 1007),
        (1000, b"ok\xc3", 1007),  # cut in the middle of a character
        (999, b"\xff", 1002),  # the code is checked first
    ],
    ids=["1000", "4000", "3000", "999", "1005", "1016", "2999", "5000", "65535", "utf8-reason",
         "surrogate-reason", "ff-reason", "cut-reason", "bad-code-and-reason"],
)
def test_client_close_codes_are_echoed_or_refused_with_1002_or_1007(server, code, reason, answer):
    _, peer = connected(server, "close")
    peer.send(close_frame(code, reason))
    assert peer.read_close() == answer
    assert peer.read_frame() is None, "the server closes the TCP connection after the close frame"
    peer.close()


@pytest.mark.parametrize("how", ["one-byte-writes", "with-the-upgrade", "after-frames"])
def test_a_close_reason_that_is_not_utf8_gets_1007_however_the_bytes_arrive(start_server, how):
    """The frames before the close (16-bit and 64-bit lengths, a ping, fragments) must be
    followed to find it, whichever way the bytes are cut."""
    server = start_server(args=["--max-message-bytes", "131072"])
    name, token = server.new_user("close1007")
    before = (text({"type": "ping", "pad": "x" * 300})                       # 16-bit length
              + frame(0x1, json.dumps({"type": "ping", "pad": "y" * 70000}).encode())  # 64-bit
              + frame(0x9, b"are you there")                                   # a control frame
              + frame(0x1, b'{"type":', fin=False) + frame(0x0, b'"ping"}'))  # a fragmented message
    bad_close = close_frame(1000, b"bye \xed\xa0\x80")
    peer = Peer(server.port)
    if how == "with-the-upgrade":
        peer.send(upgrade_request(token=token) + before + bad_close)
    else:
        peer.send(upgrade_request(token=token))
    assert peer.read_head().startswith(b"HTTP/1.1 101")
    if how == "one-byte-writes":
        for b in before + bad_close:
            peer.send(bytes([b]))
    elif how == "after-frames":
        peer.send(before + bad_close)
    assert peer.read_close() == 1007
    peer.close()


def test_a_valid_close_after_frames_that_carry_close_like_bytes_is_echoed(server):
    """A payload holding what looks like a close frame with a bad reason is not one."""
    name, peer = connected(server, "lookalike")
    lookalike = close_frame(1000, b"\xff\xff")
    peer.send(frame(0x1, json.dumps({"type": "ping", "pad": lookalike.decode("latin-1")}).encode()))
    assert peer.read_json("pong")
    peer.send(close_frame(1000, b"bye"))
    assert peer.read_close() == 1000
    peer.close()


# ---- the handshake


@pytest.mark.parametrize(
    "key",
    ["AAAAAAAAAAA=", "!!!!not base64!!!!!!!!==", "AAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
     "AAAAAAAAAAAAAAAAAAAAA===", ""],
    ids=["8-bytes", "not-base64", "one-pad", "20-bytes", "three-pads", "empty"],
)
def test_a_sec_websocket_key_that_is_not_16_base64_bytes_is_refused_with_400(server, key):
    _, token = server.new_user("key")
    peer = Peer(server.port)
    peer.send(upgrade_request(token=token, key=key))
    head = peer.read_head()
    assert head.startswith(b"HTTP/1.1 400"), head
    peer.close()

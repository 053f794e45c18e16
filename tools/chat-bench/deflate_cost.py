#!/usr/bin/env python3
"""What permessage-deflate costs chat-engine: memory per idle connection and server CPU per message,
with --permessage-deflate on and off (docs/benchmarks.md, "permessage-deflate"). Prints numbers,
asserts nothing.

Usage: .venv/bin/python tools/chat-bench/deflate_cost.py build/chat-engine [--connections 500]
           [--messages 2000]

For each setting: a fresh node; --connections clients offering permessage-deflate (as browsers
do) connect, get `hello` and stay idle: the server's RSS growth over them, per connection, is the
idle cost. Then one client sends --messages chat messages of ~200 bytes to another, both offering
deflate; the server's CPU time (user + system, /proc/<pid>/stat) over the run, per message, is the
message cost (it includes the store's durable write, which is the same on and off).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
BODY = "see you at the station at 7? I'll bring the tickets, and the sandwiches from that place " * 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def token(secret: str, user: str) -> str:
    import jwt as pyjwt

    now = int(time.time())
    return pyjwt.encode({"username": user, "iat": now, "exp": now + 3600}, secret, algorithm="HS256")


async def measure(binary: str, deflate: bool, connections: int, messages: int) -> dict:
    secret = secrets.token_hex(32)
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
        env["CHAT_JWT_SECRET"] = secret
        proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--threads", "1",
             "--permessage-deflate", "true" if deflate else "false",
             "--max-connections-per-user", str(connections + 10),
             "--send-rate", "100000", "--send-burst", "100000", "--log-level", "warn"],
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            session = requests.Session()
            session.trust_env = False
            for _ in range(200):
                try:
                    if session.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                await asyncio.sleep(0.05)
            for user in ("idle", "a", "b"):
                session.post(base + "/api/user/v1/create", data=json.dumps({"username": user}), timeout=5)
            url = f"ws://127.0.0.1:{port}/ws"

            async def open_ws(user: str):
                ws = await connect(f"{url}?token={token(secret, user)}", compression="deflate",
                                   ping_interval=None, max_size=None, proxy=None)
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello"
                return ws

            # Idle connections.
            warm = [await open_ws("idle") for _ in range(10)]  # allocator warm-up, not counted
            before = rss_kib(proc.pid)
            idle = []
            for _ in range(connections):
                idle.append(await open_ws("idle"))
            after = rss_kib(proc.pid)
            negotiated = bool(idle[0].protocol.extensions)
            for ws in idle + warm:
                await ws.close()

            # Messages.
            a, b = await open_ws("a"), await open_ws("b")
            received = 0

            async def reader():
                nonlocal received
                while received < messages:
                    frame = json.loads(await b.recv())
                    if frame["type"] == "message":
                        received += 1

            reading = asyncio.create_task(reader())
            acks = 0

            async def acker():
                nonlocal acks
                while acks < messages:
                    if json.loads(await a.recv())["type"] == "sent":
                        acks += 1

            acking = asyncio.create_task(acker())
            cpu0 = cpu_seconds(proc.pid)
            t0 = time.monotonic()
            window = 50
            for i in range(messages):
                while i - acks >= window:
                    await asyncio.sleep(0.001)
                await a.send(json.dumps({"type": "send", "id": f"m{i}", "to": "b", "body": BODY}))
            await asyncio.wait_for(asyncio.gather(reading, acking), 120)
            cpu = cpu_seconds(proc.pid) - cpu0
            wall = time.monotonic() - t0
            await a.close()
            await b.close()
            return {
                "deflate": deflate,
                "negotiated": negotiated,
                "rss_per_idle_connection_kib": (after - before) / connections,
                "cpu_us_per_message": cpu / messages * 1e6,
                "messages_per_second": messages / wall,
            }
        finally:
            proc.terminate()
            proc.wait(15)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("binary")
    p.add_argument("--connections", type=int, default=500)
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    import zlib

    sample = json.dumps({"seq": 12345, "msg_id": secrets.token_hex(16), "from": "kiran", "to": "alex",
                         "body": BODY, "ts": 1795488426127, "type": "message"})
    c = zlib.compressobj(wbits=-10)
    deflated = len(c.compress(sample.encode()) + c.flush(zlib.Z_SYNC_FLUSH)) - 4
    print(f"a {len(sample)}-byte message frame deflates alone to {deflated} bytes (zlib, 1 KiB window)")
    for r in range(args.rounds):
        for deflate in (False, True):
            m = asyncio.run(measure(args.binary, deflate, args.connections, args.messages))
            print(f"round {r + 1} deflate={'on ' if deflate else 'off'} negotiated={m['negotiated']!s:5} "
                  f"idle: {m['rss_per_idle_connection_kib']:.1f} KiB/connection  "
                  f"cpu: {m['cpu_us_per_message']:.1f} us/message  ({m['messages_per_second']:.0f} msg/s)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

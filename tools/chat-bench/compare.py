#!/usr/bin/env python3
"""Runs chat-engine, Centrifugo and the Node.js relay on the same chat-bench workloads,
interleaved run by run (A B C D, A B C D, ...), and writes a report: a JSON file with every run,
the generated section of docs/benchmarks.md (tables, targets) and PNG plots.

  tools/chat-bench/compare.py --mode short            # `make bench`: under 15 minutes
  tools/chat-bench/compare.py --mode full             # `make bench-full`: longer runs, 5 of each
  tools/chat-bench/compare.py --mode smoke --out DIR  # `make test`: tiny sizes, report into DIR

Each run of a server is two slots on a freshly started server:
  idle slot     idle --steps (e.g. 1000, 5000, 15000): server RSS and kernel socket memory after
                each step; at the top step, with every connection still held, direct 1 device
                closed loop ("direct-d1-loaded": CPU per delivery with many users connected).
  traffic slot  connect (handshakes), then with `background` idle users connected: direct
                closed loop with 1 and 3 devices, then direct at fixed offered rates, upward
                until p99 passes 50 ms.
The server is pinned to CPU 0 and chat-bench to CPU 1 (taskset). chat-engine runs twice, with
its --data-dir on disk (/var/tmp) and on tmpfs (/dev/shm). Centrifugo (memory engine) and the
relay keep nothing on disk. The peers come from scripts/bench-peers.sh install.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import benchreport as br  # noqa: E402

CACHE = os.environ.get("CHAT_BENCH_CACHE", "/var/tmp/chat-engine-bench")
CENTRIFUGO = os.path.join(CACHE, "bin", "centrifugo")
RELAY = os.path.join(HERE, "peers", "node-relay", "server.js")
SERVER_CPU, BENCH_CPU = "0", "1"
P99_LIMIT_MS = 50.0

# Sizes per mode. idle_steps: the memory curve; its top is also "many users connected".
MODES = {
    "smoke": dict(runs=1, idle_steps=[30, 60], background=20, connect=50, pairs=5, messages=20,
                  window=5, rates=[200], rate_growth=0, max_rates=1, paced_sec=2, hold=0),
    "short": dict(runs=3, idle_steps=[1000, 5000, 15000], background=1000, connect=2000, pairs=50,
                  messages=400, window=10, rates=[1000, 2000, 5000], rate_growth=2, max_rates=5,
                  paced_sec=3, hold=0),
    "full": dict(runs=5, idle_steps=[1000, 2500, 5000, 10000, 15000], background=1000, connect=5000,
                 pairs=50, messages=1000, window=10, rates=[1000, 2000, 5000], rate_growth=1.5,
                 max_rates=9, paced_sec=10, hold=5),
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One server under test, started fresh and pinned to SERVER_CPU; stop() ends it."""

    def __init__(self, name, work, secret, chat_engine_bin):
        self.name, self.work, self.secret = name, work, secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.adapter = "chat-engine" if name.startswith("chat-engine") else name
        env = dict(os.environ, CHAT_JWT_SECRET=secret)
        env.pop("CHAT_API_KEY", None)
        env.pop("CHAT_JWT_SECRET_FILE", None)
        if name.startswith("chat-engine"):
            base = "/dev/shm" if name.endswith("tmpfs") else "/var/tmp"
            self.data = tempfile.mkdtemp(prefix="chat-bench-data.", dir=base)
            cmd = [chat_engine_bin, "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data,
                   "--send-rate", "100000", "--send-burst", "100000",
                   "--max-connections-per-user", "100000", "--log-level", "warn"]
        elif name == "centrifugo":
            self.data = None
            cfg = os.path.join(work, f"centrifugo-{self.port}.json")
            with open(cfg, "w") as f:
                json.dump(centrifugo_config(secret, self.port), f, indent=2)
            cmd = [CENTRIFUGO, "--config", cfg]
        elif name == "node-relay":
            self.data = None
            cmd = ["node", RELAY, "--listen", f"127.0.0.1:{self.port}"]
        else:
            raise ValueError(name)
        self.log_path = os.path.join(work, f"{name}-{self.port}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, cwd=work)
        self.pid = self.proc.pid  # taskset execs the server: same pid
        try:
            self._wait_ready()
        except RuntimeError:
            self.stop()  # and remove its data dir
            raise

    def _wait_ready(self):
        path = "/readyz" if self.adapter in ("chat-engine", "node-relay") else "/health"
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; log {self.log_path}:\n" + open(self.log_path).read()[-2000:])
            try:
                with urllib.request.urlopen(self.url + path, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after 30 s; log {self.log_path}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self.data:
            shutil.rmtree(self.data, ignore_errors=True)


def centrifugo_config(secret, port):
    """Centrifugo v6: HS256 connect tokens with the shared secret, memory engine (the default),
    namespace `chat` with history so that a device can recover what it missed, and clients
    allowed to publish (a direct message is a publish into the recipient's chat:<user>)."""
    return {
        "http_server": {"address": "127.0.0.1", "port": str(port)},
        "log": {"level": "error"},
        "health": {"enabled": True},
        "client": {
            "token": {"hmac_secret_key": secret},
            "allowed_origins": ["*"],
        },
        "channel": {
            "namespaces": [{
                "name": "chat",
                "history_size": 100,
                "history_ttl": "300s",
                "force_recovery": True,
                "allow_publish_for_client": True,
            }],
        },
    }


class Bench:
    """Runs chat-bench, pinned to BENCH_CPU, and records what it reports and what it cost."""

    def __init__(self, binary, secret, records, work):
        self.binary, self.secret, self.records, self.work = binary, secret, records, work
        self.env = dict(os.environ, CHAT_JWT_SECRET=secret)
        self.env.pop("CHAT_API_KEY", None)

    def argv(self, srv, workload, args, duration):
        return (["taskset", "-c", BENCH_CPU, self.binary, workload, "--server", srv.adapter,
                 "--url", srv.url, "--pid", str(srv.pid), "--duration", f"{duration}s", "--json"] + args)

    def run(self, srv, run, key, workload, args, duration):
        t0 = time.time()
        # Only this chat-bench (and the workers it reaps) ends while it runs: servers and held
        # idle runs are reaped elsewhere, so the children's usage grows by its CPU alone.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(self.argv(srv, workload, args, duration), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env, text=True)
        out, err = proc.communicate()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return self._record(srv, run, key, proc, out, err, t0, cpu)

    def _record(self, srv, run, key, proc, out, err, t0, cpu):
        wall = time.time() - t0
        result = None
        for line in out.splitlines():
            if line.startswith('{"tool"'):
                result = json.loads(line)
        rec = {"server": srv.name, "run": run, "key": key, "exit": proc.returncode,
               "gen_wall_sec": round(wall, 3), "result": result}
        rec["gen_cpu_sec"] = round(cpu, 3)
        if result is None or proc.returncode not in (0, 1):
            rec["error"] = (err or out)[-1500:]
            log(f"  {srv.name} {key}: FAILED (exit {proc.returncode}): {rec['error'][-300:]}")
        else:
            log(f"  {srv.name} {key}: {summary_line(key, result)}")
            if result.get("protocol_errors", {}).get("total"):
                log(f"    protocol errors: {result['protocol_errors']['by_kind']}")
        self.records.append(rec)
        return rec

    def start_held(self, srv, steps, hold, duration):
        """idle --steps --pause in the background; returns a handle whose advance() moves it
        on to its next step and returns the step it paused at (None once it has finished)."""
        return HeldIdle(self, srv, steps, hold, duration)


class HeldIdle:
    def __init__(self, bench, srv, steps, hold, duration):
        self.bench, self.srv = bench, srv
        self.t0 = time.time()
        args = ["--steps", ",".join(str(s) for s in steps), "--pause", "--hold", f"{hold}s"]
        self.proc = subprocess.Popen(bench.argv(srv, "idle", args, duration), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bench.env,
                                     text=True, bufsize=1)
        self.lines = []

    def next_pause(self):
        """Reads up to the next pause line; returns its step, or None when the process ended."""
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("{") and '"paused_at"' in line:
                return json.loads(line)["paused_at"]
        return None

    def resume(self):
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def finish(self, run, key):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        rest = self.proc.stdout.read()
        err = self.proc.stderr.read()
        _, status, ru = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.bench._record(self.srv, run, key, self.proc, "".join(self.lines) + rest, err,
                                  self.t0, ru.ru_utime + ru.ru_stime)


def summary_line(key, r):
    m = r.get("metrics", {})
    if key in ("idle", "background"):
        steps = m.get("steps") or []
        return "; ".join(f"{s['conns']}: {s['server_rss_per_conn_bytes'] / 1024:.2f} KiB/conn" for s in steps)
    if key == "connect":
        return (f"{m.get('opens_per_sec', 0):.0f} handshakes/s, "
                f"{m.get('handshakes_per_server_cpu_sec', 0):.0f} per server CPU-s")
    h = m.get("delivery_hist", {})
    return (f"{m.get('deliveries_per_sec', 0):.0f} deliveries/s, "
            f"{m.get('deliveries_per_server_cpu_sec', 0):.0f} per server CPU-s, p50 {h.get('p50_ms')} "
            f"p99 {h.get('p99_ms')} max {h.get('max_ms')} ms, server {m.get('server_cores', 0):.2f} cores, "
            f"chat-bench {m.get('client_cores', 0):.2f} cores, lost {m.get('lost')}")


def idle_slot(bench, make_server, name, run, cfg):
    """Fresh server: the memory curve, then direct traffic with the top step's users held."""
    srv = make_server(name)
    try:
        held = bench.start_held(srv, cfg["idle_steps"], cfg["hold"], 600)
        while True:
            step = held.next_pause()
            if step is None:
                break
            if step == cfg["idle_steps"][-1]:
                direct(bench, srv, run, cfg, "direct-d1-loaded", devices=1)
            held.resume()
        held.finish(run, "idle")
    finally:
        srv.stop()


def direct(bench, srv, run, cfg, key, devices, rate=None):
    args = ["--pairs", str(cfg["pairs"]), "--devices", str(devices), "--window", str(cfg["window"])]
    if rate:
        messages = max(1, round(rate * cfg["paced_sec"] / cfg["pairs"]))
        args += ["--messages", str(messages), "--rate", str(rate)]
        duration = cfg["paced_sec"] * 3 + 30
    else:
        args += ["--messages", str(cfg["messages"])]
        duration = 120
    return bench.run(srv, run, key, "pairs", args, duration)


def traffic_slot(bench, make_server, name, run, cfg):
    """Fresh server: connect; then, with `background` users held, direct closed loop with 1 and
    3 devices and direct at rising offered rates until p99 passes P99_LIMIT_MS."""
    srv = make_server(name)
    try:
        bench.run(srv, run, "connect", "connect", ["--conns", str(cfg["connect"])], 300)
        held = bench.start_held(srv, [cfg["background"]], 0, 900)
        if held.next_pause() is None:
            held.finish(run, "background")
            return
        direct(bench, srv, run, cfg, "direct-d1", devices=1)
        direct(bench, srv, run, cfg, "direct-d3", devices=3)
        rate, rates = None, list(cfg["rates"])
        for i in range(cfg["max_rates"]):
            rate = rates[i] if i < len(rates) else int(rate * cfg["rate_growth"])
            rec = direct(bench, srv, run, cfg, f"paced-{rate}", devices=1, rate=rate)
            p99 = br.dig(rec, "result.metrics.delivery_hist.p99_ms")
            if i >= len(rates) - 1 and (p99 is None or p99 > P99_LIMIT_MS or not cfg["rate_growth"]):
                break
        held.resume()
        held.finish(run, "background")
    finally:
        srv.stop()


def write_json(path, doc):
    """The document with one record per line: readable, and small enough to commit."""
    with open(path, "w") as f:
        f.write("{\n")
        items = list(doc.items())
        for i, (k, v) in enumerate(items):
            sep = "," if i < len(items) - 1 else ""
            if k == "records":
                lines = ",\n".join("  " + json.dumps(r, separators=(",", ":")) for r in v)
                f.write(f'{json.dumps(k)}: [\n{lines}\n]{sep}\n')
            else:
                f.write(f"{json.dumps(k)}: {json.dumps(v)}{sep}\n")
        f.write("}\n")


def versions(chat_engine_bin):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except OSError:
            return None
    lock = os.path.join(HERE, "peers", "node-relay", "package-lock.json")
    pkgs = json.load(open(lock)).get("packages", {}) if os.path.exists(lock) else {}
    return {
        "chat-engine": out(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
        "centrifugo": next((line.split()[2] for line in (out(["go", "version", "-m", CENTRIFUGO]) or "").splitlines()
                            if line.split()[:2] == ["mod", "github.com/centrifugal/centrifugo/v6"]), None),
        "node": out(["node", "--version"]),
        "ws": pkgs.get("node_modules/ws", {}).get("version"),
        "jsonwebtoken": pkgs.get("node_modules/jsonwebtoken", {}).get("version"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=sorted(MODES), default="short")
    ap.add_argument("--runs", type=int, help="runs of each server (default: the mode's)")
    ap.add_argument("--servers", default=",".join(br.SERVERS), help="comma-separated, from " + ",".join(br.SERVERS))
    ap.add_argument("--chat-engine", default=os.path.join(ROOT, "build", "chat-engine"))
    ap.add_argument("--out", help="directory for the JSON, the report and the plots instead of bench/results and docs/")
    args = ap.parse_args()
    args.chat_engine = os.path.abspath(args.chat_engine)
    cfg = dict(MODES[args.mode])
    if args.runs:
        cfg["runs"] = args.runs
    servers = [s for s in args.servers.split(",") if s]
    for s in servers:
        if s not in br.SERVERS:
            ap.error(f"unknown server {s}")
    missing = [s for s in servers if (s == "centrifugo" and not os.access(CENTRIFUGO, os.X_OK))
               or (s == "node-relay" and not os.path.isdir(os.path.join(HERE, "peers", "node-relay", "node_modules")))]
    if missing:
        ap.error(f"not installed: {', '.join(missing)}; run scripts/bench-peers.sh install")
    if any(s.startswith("chat-engine") for s in servers) and not os.access(args.chat_engine, os.X_OK):
        ap.error(f"no chat-engine binary at {args.chat_engine}")

    started = time.time()
    work = tempfile.mkdtemp(prefix="chat-bench-compare.")
    binary = os.path.join(work, "chat-bench")
    subprocess.run(["go", "build", "-o", binary, "."], cwd=HERE, check=True)
    secret = secrets.token_hex(32)
    records = []
    bench = Bench(binary, secret, records, work)

    def make_server(name):
        return ServerProcess(name, work, secret, args.chat_engine)

    log(f"mode {args.mode}: {cfg['runs']} runs of {', '.join(servers)}; server on CPU {SERVER_CPU}, chat-bench on CPU {BENCH_CPU}")
    def slot(fn, name, run, what):
        log(f"run {run}, {name}: {what} slot")
        try:
            fn(bench, make_server, name, run, cfg)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            # A server that would not start, or broke: recorded, and the other runs go on.
            log(f"  {name} {what} slot FAILED: {e}")
            records.append({"server": name, "run": run, "key": f"{what}-slot", "exit": None,
                            "gen_wall_sec": 0, "gen_cpu_sec": 0, "result": None, "error": str(e)[-1500:]})

    try:
        for run in range(1, cfg["runs"] + 1):
            for name in servers:
                slot(idle_slot, name, run, "idle")
            for name in servers:
                slot(traffic_slot, name, run, "traffic")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    doc = {"date": date, "mode": args.mode, "sizes": cfg, "servers": servers,
           "pinning": {"server_cpu": SERVER_CPU, "chat_bench_cpu": BENCH_CPU},
           "versions": versions(args.chat_engine), "elapsed_sec": round(time.time() - started, 1),
           "records": records}
    doc["targets"] = br.targets(records, servers)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        json_path = os.path.join(args.out, f"{date}.json")
        md_path = os.path.join(args.out, "benchmarks.md")
        png_dir = os.path.join(args.out, "bench")
        rel_png = "bench"
    else:
        json_path = os.path.join(ROOT, "bench", "results", f"{date}.json")
        md_path = os.path.join(ROOT, "docs", "benchmarks.md")
        png_dir = os.path.join(ROOT, "docs", "bench")
        rel_png = "bench"
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    write_json(json_path, doc)
    import benchdoc  # after the runs: matplotlib is only needed here
    plots = benchdoc.plots(doc, png_dir, rel_png)
    section = benchdoc.markdown(doc, plots, os.path.relpath(json_path, os.path.dirname(md_path)))
    benchdoc.write_section(md_path, section)
    failed = [r for r in records if "error" in r or br.dig(r, "result.protocol_errors.total")]
    log(f"done in {time.time() - started:.0f} s: {json_path}, {md_path}, {len(plots)} plots in {png_dir}"
        + (f"; {len(failed)} chat-bench runs failed or saw protocol errors" if failed else ""))
    for t in doc["targets"]:
        met = "not measured" if t["met"] is None else ("met" if t["met"] else "missed")
        log(f"  target {met}: {t['target']}: {t['value']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The Dockerfile's steps run without Docker: see scripts/check-dockerfile.sh for the design."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[1]
DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Debian images' PATH
BUILD_IMAGE = "debian:bookworm"
RUNTIME_IMAGE = "debian:bookworm-slim"


class CheckFailed(Exception):
    pass


def step(message: str) -> None:
    print(f"check-dockerfile: {message}", flush=True)


def expand(text: str, values: dict[str, str]) -> str:
    """$VAR and ${VAR} from the stage's ARG and ENV values, as Docker expands COPY and WORKDIR."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values.get(m.group(1) or m.group(2), ""), text)


def parse_pairs(value: str) -> dict[str, str]:
    out = {}
    for item in shlex.split(value):
        if "=" not in item:
            raise CheckFailed(f"ENV/ARG without '=' is not supported here: {value!r}")
        key, _, val = item.partition("=")
        out[key] = val
    return out


class Stage:
    def __init__(self, image: str, name: str | None):
        self.image = image
        self.name = name
        self.instructions: list[dict] = []


def read_stages(dockerfile: Path) -> tuple[dict[str, str], list[Stage]]:
    parser = DockerfileParser(path=str(dockerfile))
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in parser.structure:
        kind, value = ins["instruction"], ins["value"].strip()
        if kind == "COMMENT":
            continue
        if kind == "FROM":
            parts = value.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif not stages:
            if kind != "ARG":
                raise CheckFailed(f"line {ins['startline'] + 1}: only ARG may precede the first FROM")
            global_args.update(parse_pairs(value))
        else:
            stages[-1].instructions.append(ins)
    if [s.image for s in stages] != [BUILD_IMAGE, RUNTIME_IMAGE]:
        raise CheckFailed(f"expected a {BUILD_IMAGE} build stage and a {RUNTIME_IMAGE} runtime stage, found {[s.image for s in stages]}")
    return global_args, stages


def stage_args(stage: Stage, global_args: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """ARGs a stage declares: the override (--build-arg), else its default, else the global one."""
    out = {}
    for ins in stage.instructions:
        if ins["instruction"] == "ARG":
            name, _, default = ins["value"].strip().partition("=")
            out[name] = overrides.get(name, default or global_args.get(name, ""))
    return out


def copy_context(dest: Path) -> None:
    """The files `docker build .` sends, with their times (so that make sees nothing new)."""
    ignore = REPO / ".dockerignore"
    patterns = [line.strip() for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")]
    for rel in sorted(exclude_paths(str(REPO), patterns, dockerfile="Dockerfile")):
        src = REPO / rel
        if src.is_symlink() or src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target, follow_symlinks=False)
        elif src.is_dir():
            (dest / rel).mkdir(parents=True, exist_ok=True)


def copy_into(src: Path, dest: Path) -> None:
    """COPY semantics for the forms used here: a file to a file path, a directory's contents into a directory."""
    if src.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", f"{src}/.", f"{dest}/"], check=True)
    elif src.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    else:
        raise CheckFailed(f"COPY source {src} does not exist")


ABSOLUTE_PATH = re.compile(r"""(?:^|[\s"'=;&|(])(/[A-Za-z0-9_.-][^\s"';&|)]*)""")


def run_build_stage(stage: Stage, args: dict[str, str], context: Path, scratch: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    workdir: Path | None = None
    for ins in stage.instructions:
        kind, value = ins["instruction"], ins["value"].strip()
        line = ins["startline"] + 1
        if kind == "ARG":
            continue
        if kind == "WORKDIR":
            image_dir = expand(value, args)
            workdir = scratch / "build-root" / image_dir.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
            step(f"build: WORKDIR {image_dir} -> {workdir}")
        elif kind == "COPY":
            if value.startswith("--"):
                raise CheckFailed(f"line {line}: COPY options are not modelled in the build stage: {value}")
            *sources, target = shlex.split(expand(value, args))
            if workdir is None:
                raise CheckFailed(f"line {line}: COPY before WORKDIR")
            for source in sources:
                src = context if source == "." else context / source
                dest = workdir if target == "." else workdir / target
                step(f"build: COPY {source} {target}")
                copy_into(src, dest)
        elif kind == "RUN":
            command = value
            for path in ABSOLUTE_PATH.findall(command):
                raise CheckFailed(
                    f"line {line}: the build stage's RUN names the absolute path {path}; use WORKDIR-relative "
                    "paths or the BUILD_DIR/STAGING arguments, which this check redirects"
                )
            step(f"build: RUN {command}")
            started = time.monotonic()
            run_env = dict(env, **args)
            out = subprocess.run(["/bin/sh", "-c", command], cwd=workdir, env=run_env)
            if out.returncode != 0:
                raise CheckFailed(f"line {line}: RUN exited with {out.returncode}")
            step(f"build: RUN done in {time.monotonic() - started:.1f} s")
        else:
            raise CheckFailed(f"line {line}: {kind} is not modelled in the build stage")


class RuntimeImage:
    """The runtime stage's root directory, with the image's configuration as it accumulates."""

    def __init__(self, root: Path):
        self.root = root
        self.env: dict[str, str] = {"PATH": DOCKER_PATH}
        self.user = "root"
        self.workdir = "/"
        self.volumes: list[str] = []
        self.exposed: list[str] = []
        self.healthcheck: dict | None = None
        self.entrypoint: list[str] | None = None
        self.cmd: list[str] = []
        self.stopsignal = "SIGTERM"

    def ids(self, user: str) -> tuple[int, int, str]:
        out = subprocess.run(["chroot", str(self.root), "getent", "passwd", user], capture_output=True, text=True)
        if out.returncode != 0:
            raise CheckFailed(f"user {user} does not exist in the runtime image")
        fields = out.stdout.strip().split(":")
        return int(fields[2]), int(fields[3]), fields[5]

    def process(self, argv: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        """A process in the root as the current USER, in the current WORKDIR, with exactly `env`."""
        uid, gid, home = self.ids(self.user) if self.user != "root" else (0, 0, "/root")
        root, workdir = str(self.root), self.workdir

        def enter():
            os.chroot(root)
            os.chdir(workdir)
            if uid != 0:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)

        return subprocess.Popen(argv, env=dict({"HOME": home}, **env), preexec_fn=enter, **kwargs)

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 900, **kwargs) -> subprocess.CompletedProcess:
        proc = self.process(argv, env, **kwargs)
        stdout, stderr = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def bootstrap(root: Path) -> None:
    step(f"runtime: FROM {RUNTIME_IMAGE} -> mmdebstrap --variant=minbase bookworm {root}")
    started = time.monotonic()
    out = subprocess.run(
        ["mmdebstrap", "--variant=minbase", "--quiet", "bookworm", str(root)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise CheckFailed(f"mmdebstrap failed:\n{out.stderr[-3000:]}")
    shutil.copy2("/etc/resolv.conf", root / "etc" / "resolv.conf")  # what Docker provides to RUN
    step(f"runtime: base root in {time.monotonic() - started:.1f} s")


def shell_or_exec(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("["):
        return json.loads(value)
    return ["/bin/sh", "-c", value]


def run_runtime_stage(stage: Stage, args: dict[str, str], image: RuntimeImage) -> None:
    for ins in stage.instructions:
        kind, value = ins["instruction"], ins["value"].strip()
        line = ins["startline"] + 1
        values = dict(args, **image.env)
        if kind == "ARG":
            continue
        elif kind == "RUN":
            step(f"runtime: RUN {value}")
            out = image.run(["/bin/sh", "-c", value], dict(args, **image.env))
            if out.returncode != 0:
                raise CheckFailed(f"line {line}: RUN exited with {out.returncode}")
        elif kind == "COPY":
            m = re.fullmatch(r"--from=(\S+)\s+(\S+)\s+(\S+)", value)
            if not m or m.group(1) != "build":
                raise CheckFailed(f"line {line}: only `COPY --from=build SRC DEST` is modelled: {value}")
            src, dest = expand(m.group(2), values), expand(m.group(3), values)
            step(f"runtime: COPY --from=build {src} {dest}")
            copy_into(Path(src), image.root / dest.lstrip("/"))
        elif kind == "USER":
            image.user = expand(value, values)
            image.ids(image.user)
        elif kind == "WORKDIR":
            image.workdir = expand(value, values)
            (image.root / image.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif kind == "ENV":
            image.env.update({k: expand(v, values) for k, v in parse_pairs(value).items()})
        elif kind == "VOLUME":
            image.volumes += shell_or_exec(value) if value.startswith("[") else value.split()
        elif kind == "EXPOSE":
            image.exposed += value.split()
        elif kind == "HEALTHCHECK":
            m = re.fullmatch(r"((?:--\S+\s+)*)CMD\s+(.*)", value, re.S)
            if not m:
                raise CheckFailed(f"line {line}: HEALTHCHECK must be `[OPTIONS] CMD ...`")
            options = dict(re.findall(r"--([a-z-]+)=(\S+)", m.group(1)))
            image.healthcheck = {"options": options, "cmd": shell_or_exec(m.group(2))}
        elif kind == "STOPSIGNAL":
            image.stopsignal = value
        elif kind == "ENTRYPOINT":
            image.entrypoint = shell_or_exec(value)
        elif kind == "CMD":
            image.cmd = shell_or_exec(value)
        else:
            raise CheckFailed(f"line {line}: {kind} is not modelled in the runtime stage")


def docker_seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text)
    if not m:
        raise CheckFailed(f"not a duration: {text}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_image(image: RuntimeImage, log_dir: Path) -> None:
    binary = image.entrypoint[0] if image.entrypoint else None
    if not binary:
        raise CheckFailed("the runtime image has no ENTRYPOINT")
    step(f"runtime: ldd {binary}")
    ldd = image.run(["ldd", binary], {"PATH": DOCKER_PATH}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    missing = [l.strip() for l in ldd.stdout.splitlines() if "not found" in l]
    if ldd.returncode != 0 or missing:
        raise CheckFailed(f"libraries the runtime image lacks: {missing or ldd.stderr}")
    step(f"runtime: every one of {len(ldd.stdout.splitlines())} libraries found")

    if image.user in ("root", "0"):
        raise CheckFailed("the image runs as root: USER must name the image's own user")
    uid, gid, _ = image.ids(image.user)
    for volume in image.volumes:
        st = (image.root / volume.lstrip("/")).stat()
        if st.st_uid != uid:
            raise CheckFailed(f"VOLUME {volume} belongs to uid {st.st_uid}, not to {image.user} ({uid})")
    listen = image.env.get("CHAT_LISTEN", "")
    if not image.exposed or listen.rsplit(":", 1)[-1] != image.exposed[0].split("/")[0]:
        raise CheckFailed(f"EXPOSE {image.exposed} does not match CHAT_LISTEN={listen}")
    if not image.healthcheck:
        raise CheckFailed("the runtime image has no HEALTHCHECK")

    # docker run -e CHAT_LISTEN=127.0.0.1:<free port>: the same image on a port free on this machine.
    env = dict(image.env, CHAT_LISTEN=f"127.0.0.1:{free_port()}")
    log_path = log_dir / "container.log"
    with open(log_path, "wb") as log:
        proc = image.process(image.entrypoint + image.cmd, env, stdout=log, stderr=log)
    step(f"runtime: started {' '.join(image.entrypoint + image.cmd)} as {image.user} with {env['CHAT_LISTEN']}")
    try:
        options = image.healthcheck["options"]
        interval = docker_seconds(options.get("interval", "30s"))
        deadline = time.monotonic() + docker_seconds(options.get("start-period", "0s")) + interval * int(options.get("retries", "3"))
        while True:  # Docker's rule, polled faster: healthy at the first success within the budget
            if proc.poll() is not None:
                raise CheckFailed(f"the server exited with {proc.returncode}:\n{log_path.read_text()}")
            probe = image.run(image.healthcheck["cmd"], env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=docker_seconds(options.get("timeout", "30s")))
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise CheckFailed(f"never healthy: {probe.stderr!r}\n{log_path.read_text()}")
            time.sleep(0.2)
        step("runtime: HEALTHCHECK passes")
        data = image.root / env.get("CHAT_DATA_DIR", "/nonexistent").lstrip("/")
        secret = data / "jwt-secret"
        if not secret.exists() or secret.stat().st_uid != uid:
            raise CheckFailed(f"{secret} was not written by {image.user}")
        step(f"runtime: {env['CHAT_DATA_DIR']} written by {image.user}")
        proc.send_signal(getattr(signal, image.stopsignal))
        code = proc.wait(15)
        if code != 0:
            raise CheckFailed(f"exit code {code} after {image.stopsignal}:\n{log_path.read_text()}")
        step(f"runtime: exited 0 on {image.stopsignal}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", required=True, type=Path, help="a build directory `make build` has built")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    opts = parser.parse_args()
    build_dir = opts.build_dir.resolve()
    if not (build_dir / "build.ninja").exists():
        print(f"check-dockerfile: {build_dir} is not a configured build directory (run make build)", file=sys.stderr)
        return 2
    stale = [c for c in REPO.rglob("CMakeLists.txt") if c.stat().st_mtime > (build_dir / "build.ninja").stat().st_mtime]
    if stale:
        print(f"check-dockerfile: {stale[0]} is newer than {build_dir}/build.ninja: run make build first, so that "
              "the build stage finds the build up to date", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("check-dockerfile: needs root (chroot, and the runtime root's owners)", file=sys.stderr)
        return 2
    if not Path("/etc/debian_version").read_text().startswith("12"):
        print("check-dockerfile: the build stage runs on this machine, which must be Debian 12", file=sys.stderr)
        return 2
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="check-dockerfile-", dir="/var/tmp"))
    try:
        global_args, (build, runtime) = read_stages(REPO / "Dockerfile")
        overrides = {"BUILD_DIR": str(build_dir), "STAGING": str(scratch / "staging")}
        context = scratch / "context"
        copy_context(context)
        step(f"context: {sum(1 for p in context.rglob('*') if p.is_file())} files in {context}")
        binary = build_dir / "chat-engine"
        before = binary.stat().st_mtime_ns if binary.exists() else None
        run_build_stage(build, stage_args(build, global_args, overrides), context, scratch)
        if before is not None and binary.stat().st_mtime_ns != before:
            step(f"note: {binary} was rebuilt: {build_dir} was not up to date with the sources")
        image = RuntimeImage(scratch / "runtime-root")
        bootstrap(image.root)
        run_runtime_stage(runtime, stage_args(runtime, global_args, overrides), image)
        check_image(image, scratch)
    except CheckFailed as e:
        print(f"check-dockerfile: FAILED: {e}", file=sys.stderr)
        print(f"check-dockerfile: scratch kept in {scratch}", file=sys.stderr)
        return 1
    if not opts.keep:
        shutil.rmtree(scratch)
    step(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

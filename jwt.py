#!/usr/bin/env python3
"""Mint an HS256 JWT that the chat-engine server accepts.

Usage:
    python3 jwt.py <username>              prints "JWT Token: <token>"
    python3 jwt.py <username> --raw        prints the token alone (for scripts)
    python3 jwt.py <username> --ttl 600    lifetime in seconds (default 3600)
    python3 jwt.py <username> --data-dir /var/lib/chat

The key is found exactly as the server finds it (src/auth/secret.h):
    1. env CHAT_JWT_SECRET_FILE: that file's text, without one trailing "\\n" or "\\r\\n";
    2. env CHAT_JWT_SECRET: its value;
    3. <data dir>/jwt-secret, where the data dir is --data-dir, else env CHAT_DATA_DIR, else ./data.
       The file is created when missing (mode 0600, 64 random hex characters and a newline),
       safely even when the server starts at the same moment.
A variable that is set counts even when empty. A secret shorter than 32 bytes is refused.

Payload: {"username": <name>, "iat": now, "exp": now + ttl}. Standard library only.
Exit status: 0 on success, 2 on a usage or configuration error.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import tempfile
import time

MIN_SECRET_BYTES = 32
MAX_SECRET_FILE_BYTES = 64 * 1024
USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ConfigError(Exception):
    pass


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def read_secret_file(path: str, missing_ok: bool = False):
    """The file's bytes without one trailing newline; None if missing and missing_ok."""
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as e:
        if missing_ok and isinstance(e, FileNotFoundError):
            return None
        raise ConfigError(f"cannot open JWT secret file {path}: {e.strerror}") from None
    if len(text) > MAX_SECRET_FILE_BYTES:
        raise ConfigError(f"JWT secret file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
    if text.endswith(b"\r\n"):
        return text[:-2]
    if text.endswith(b"\n"):
        return text[:-1]
    return text


def read_or_create(path: str, data_dir: str) -> bytes:
    existing = read_secret_file(path, missing_ok=True)
    if existing is not None:
        return existing
    try:
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create data directory {data_dir}: {e.strerror}") from None
    text = (secrets.token_hex(32) + "\n").encode("ascii")
    # As the server does: write a complete temporary file (O_EXCL, 0600), then link() it into
    # place, which fails if the server or another jwt.py got there first; then use theirs.
    try:
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix="jwt-secret.")
    except OSError as e:
        raise ConfigError(f"cannot create JWT secret file {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return read_secret_file(path)
    except OSError as e:
        raise ConfigError(f"cannot create JWT secret file {path}: {e.strerror}") from None
    finally:
        os.unlink(tmp)
    return text[:-1]


def resolve_secret(data_dir: str) -> bytes:
    if "CHAT_JWT_SECRET_FILE" in os.environ:
        file = os.environ["CHAT_JWT_SECRET_FILE"]
        source = f"env CHAT_JWT_SECRET_FILE ({file})"
        secret = read_secret_file(file)
    elif "CHAT_JWT_SECRET" in os.environ:
        source = "env CHAT_JWT_SECRET"
        secret = os.fsencode(os.environ["CHAT_JWT_SECRET"])  # the variable's exact bytes
    else:
        path = os.path.join(data_dir, "jwt-secret")
        source = f"file {path}"
        secret = read_or_create(path, data_dir)
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"JWT secret from {source} is shorter than {MIN_SECRET_BYTES} bytes; "
            "use e.g. `openssl rand -hex 32`")
    return secret


def sign_hs256(payload: dict, key: bytes) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(payload, separators=(",", ":")).encode()))
    mac = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def main() -> int:
    parser = argparse.ArgumentParser(description="Mint an HS256 JWT for chat-engine.")
    parser.add_argument("username", help="1-64 characters of [A-Za-z0-9_.-]")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    parser.add_argument("--raw", action="store_true", help="print the token alone")
    parser.add_argument("--data-dir", default=os.environ.get("CHAT_DATA_DIR", "./data"),
                        help="where jwt-secret lives (default: env CHAT_DATA_DIR, else ./data)")
    args = parser.parse_args()

    if not USERNAME_RE.fullmatch(args.username):
        print(f"jwt.py: invalid username {args.username!r}: want 1-64 of [A-Za-z0-9_.-]",
              file=sys.stderr)
        return 2
    if args.ttl <= 0:
        print("jwt.py: --ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        key = resolve_secret(args.data_dir)
    except ConfigError as e:
        print(f"jwt.py: {e}", file=sys.stderr)
        return 2

    now = int(time.time())
    token = sign_hs256({"username": args.username, "iat": now, "exp": now + args.ttl}, key)
    print(token if args.raw else f"JWT Token: {token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

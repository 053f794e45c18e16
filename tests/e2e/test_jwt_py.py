"""jwt.py at the repository root (issue 2, sections 1, 2 and 4): its tokens work against the real
server, and it finds the secret exactly as the server does."""

import os
import re
import subprocess
import time

import jwt as pyjwt
import pytest

from conftest import REPO_ROOT, SECRET, refused_status, remember

JWT_PY = REPO_ROOT / "jwt.py"


@pytest.fixture(autouse=True)
def require_jwt_py():
    if JWT_PY.exists():
        return
    message = f"{JWT_PY} not found"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI is set, so a missing jwt.py fails the suite", pytrace=False)
    pytest.skip(message)


def run_jwt_py(*args, env=None, python_flags=()):
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    base.update(env if env is not None else {"CHAT_JWT_SECRET": SECRET})
    # "python3" as a person would type it; never this venv's interpreter (jwt.py is stdlib only).
    python = "python3"
    r = subprocess.run([python, *python_flags, str(JWT_PY), *args], env=base, capture_output=True, text=True,
                       timeout=30, cwd=REPO_ROOT)
    return r


def raw_token(user, *args, **kwargs):
    r = run_jwt_py(user, "--raw", *args, **kwargs)
    assert r.returncode == 0, r.stderr
    return remember(r.stdout.strip())


async def test_raw_token_is_accepted_by_the_server(server):
    name, _ = server.new_user("jwtpy")
    token = raw_token(name)
    client = await server.connect(token)
    assert client.hello["user"] == name
    claims = pyjwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["username"] == name
    assert abs(claims["exp"] - (time.time() + 3600)) < 60, "default ttl is 3600 s"
    assert client.hello["exp"] == claims["exp"]
    await client.close()


async def test_without_raw_prints_jwt_token_prefix(server):
    name, _ = server.new_user("jwtpy")
    r = run_jwt_py(name)
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r"JWT Token: (\S+)\n", r.stdout)
    assert m, repr(r.stdout)
    client = await server.connect(remember(m.group(1)))
    assert client.hello["user"] == name
    await client.close()


def test_ttl_sets_the_lifetime():
    r = run_jwt_py("someone", "--raw", "--ttl", "120")
    assert r.returncode == 0, r.stderr
    claims = pyjwt.decode(remember(r.stdout.strip()), SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 120
    assert pyjwt.get_unverified_header(r.stdout.strip())["alg"] == "HS256"


def test_runs_on_the_standard_library_alone():
    # -S: no site-packages at all, so no third-party module can be imported.
    r = run_jwt_py("someone", "--raw", python_flags=("-S",))
    assert r.returncode == 0, r.stderr
    pyjwt.decode(remember(r.stdout.strip()), SECRET, algorithms=["HS256"])


async def test_token_with_another_secret_is_refused(server):
    name, _ = server.new_user("jwtpy")
    token = raw_token(name, env={"CHAT_JWT_SECRET": "another-secret-" + "9" * 49})
    status, _ = await refused_status(server, token)
    assert status == 401


async def test_secret_file_is_found_like_the_server_finds_it(start_server, tmp_path):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("file-secret-" + "f" * 52 + "\n")  # the trailing newline is not part of the key
    env = {"CHAT_JWT_SECRET_FILE": str(secret_file), "CHAT_JWT_SECRET": SECRET}  # the file wins
    s = start_server(env=env)
    name, _ = s.new_user("jwtfile")
    token = raw_token(name, env=env)
    client = await s.connect(token)
    assert client.hello["user"] == name
    await client.close()


async def test_generated_data_dir_secret_is_shared_with_the_server(start_server):
    s = start_server(secret=None)  # no secret in the environment: the server creates <data-dir>/jwt-secret
    name, _ = s.new_user("jwtdir")
    token = raw_token(name, env={"CHAT_DATA_DIR": str(s.data_dir)})
    client = await s.connect(token)
    assert client.hello["user"] == name
    await client.close()
    token = raw_token(name, "--data-dir", str(s.data_dir), env={})
    client = await s.connect(token)
    await client.close()


def test_invalid_username_is_a_usage_error():
    r = run_jwt_py("not a name", "--raw")
    assert r.returncode != 0
    assert r.stdout == ""

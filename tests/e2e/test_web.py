"""The web client's files at / (--web-dir) and the development login (--dev-login):
docs/operations.md, "The web client"."""

import pytest

from conftest import error_body

INDEX = b"<!doctype html><title>chat</title><script type=module src=/assets/app-1a2b.js></script>"
SCRIPT = b"console.log('chat');"


@pytest.fixture
def web_dir(tmp_path):
    root = tmp_path / "web"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "app-1a2b.js").write_bytes(SCRIPT)
    (root / "assets" / "style.css").write_bytes(b"body{}")
    (root / "logo.svg").write_bytes(b"<svg/>")
    return root


@pytest.mark.parametrize(
    "path, content_type, body",
    [("/", "text/html; charset=utf-8", INDEX),
     ("/index.html", "text/html; charset=utf-8", INDEX),
     ("/assets/app-1a2b.js", "text/javascript; charset=utf-8", SCRIPT),
     ("/assets/style.css", "text/css; charset=utf-8", b"body{}"),
     ("/logo.svg", "image/svg+xml", b"<svg/>")],
)
def test_the_web_clients_files_are_served_at_the_root(start_server, web_dir, path, content_type, body):
    s = start_server(args=["--web-dir", str(web_dir)])
    r = s.api("GET", path)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == content_type
    assert r.content == body
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    head = s.api("HEAD", path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize("path", ["/missing.js", "/assets", "/assets/", "/../web/index.html", "/%2e%2e/etc/passwd",
                                  "/assets/../../web/index.html", "//etc/passwd"])
def test_anything_else_is_the_json_404_and_nothing_outside_the_directory_is_read(start_server, web_dir, path):
    (web_dir.parent / "secret.txt").write_text("not for the web")
    s = start_server(args=["--web-dir", str(web_dir)])
    r = s.api("GET", path)
    assert r.status_code in (400, 404), r.text
    assert b"not for the web" not in r.content
    error_body(r)


def test_files_are_read_once_at_start_up_and_the_api_keeps_its_paths(start_server, web_dir):
    s = start_server(args=["--web-dir", str(web_dir)])
    (web_dir / "later.js").write_bytes(b"new")
    assert s.api("GET", "/later.js").status_code == 404
    assert s.api("GET", "/healthz").json() == {"status": "ok"}
    post = s.api("POST", "/")
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"
    assert "web client: 4 files from" in s.log_text()


def test_without_the_directory_the_root_is_404_and_the_log_says_where_it_looked(start_server, tmp_path):
    s = start_server(args=["--web-dir", str(tmp_path / "nowhere")])
    r = s.api("GET", "/")
    assert r.status_code == 404
    error_body(r, "not_found")
    assert f"no web client in {tmp_path / 'nowhere'}" in s.log_text()


# ---- the development login


def test_the_development_login_is_off_by_default(server):
    for method, path in [("GET", "/api/dev/v1"), ("POST", "/api/dev/v1/token")]:
        r = server.api(method, path, json={"username": "mallory"})
        assert r.status_code == 404, r.text
        error_body(r, "not_found")
    assert server.get_user("mallory").status_code == 404
    assert "DEVELOPMENT LOGIN" not in server.log_text()


async def test_the_development_login_creates_the_user_and_mints_a_working_token(start_server):
    s = start_server(args=["--dev-login"])
    assert "DEVELOPMENT LOGIN IS ON" in s.log_text()
    assert s.api("GET", "/api/dev/v1").json() == {"dev_login": True}
    r = s.api("POST", "/api/dev/v1/token", json={"username": "dev_alice"})
    assert r.status_code == 200, r.text
    minted = r.json()
    assert set(minted) == {"username", "token", "exp"} and minted["username"] == "dev_alice"
    assert s.get_user("dev_alice").status_code == 200
    client = await s.connect(minted["token"])
    assert client.hello["user"] == "dev_alice" and client.hello["exp"] == minted["exp"]
    # Again for the same user: a new token, the same account.
    again = s.api("POST", "/api/dev/v1/token", json={"username": "dev_alice"})
    assert again.status_code == 200 and again.json()["username"] == "dev_alice"
    await client.close()


@pytest.mark.parametrize("body", [{}, {"username": ""}, {"username": "not a name"}, {"username": 7},
                                  {"username": "create"}, "[1]", "{"])
def test_the_development_login_refuses_a_bad_name_with_400(start_server, body):
    s = start_server(args=["--dev-login"])
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body}
    r = s.api("POST", "/api/dev/v1/token", **kwargs)
    assert r.status_code == 400, r.text
    error_body(r, "bad_request")
    assert s.api("GET", "/api/dev/v1/token").status_code == 405

"""Issue 14, findings 2, 5 and 11 (part), replayed as attacks on the app: each must fail safely.

Forged sessions (the old public key), made-up chat session ids, rotated X-Forwarded-For, dropped
cookies, guessing one account from many addresses, a token reused after sign-out, framing and
sniffing, and data files other users could read. (Served by real uvicorn: test_auth_attacks_served.)
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from service.app import STATIC, create_app
from service.auth import SESSION_COOKIE, issue
from service.cli import app as cli
from service.client_address import TrustedProxies
from service.container import build_services
from service.routers.chat import COOKIE
from service.secret_key import SECRET_FILE, SecretKeyError, bind_problem, load_or_create
from service.security_headers import inline_script_hashes
from service.settings import OLD_PUBLIC_SECRET, load_settings
from tools.db import migrate
from tools.users import UserStore

PASSWORD = "correct-horse-battery"
CITY = "https://www.example.gov.cn"
PROXY = "10.0.0.1"


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated data dir with an admin and a caseworker (no documents: answers are degraded)."""
    path = tmp_path_factory.mktemp("attacks") / "data"
    services = build_services(load_settings(data_dir=path, llm={"backend": "none"}))
    migrate(services.engine)
    UserStore(services.engine).add("boss", PASSWORD, ["admin"])
    UserStore(services.engine).add("hotline", PASSWORD, ["caseworker"])
    services.engine.dispose()
    return path


@pytest.fixture
def data_dir(base_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(base_dir, tmp_path / "data")
    return tmp_path / "data"


def client(data_dir: Path, *, peer: tuple[str, int] = ("testclient", 50000), **groups: Any) -> TestClient:
    settings = load_settings(data_dir=data_dir, llm={"backend": "none"}, **groups)
    return TestClient(create_app(settings), client=peer)


@pytest.fixture
def app_client(data_dir: Path) -> Iterator[TestClient]:
    with client(data_dir) as c:
        yield c


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error body, after checking the status and the envelope's code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code and body["message"] and body["request_id"]
    return body


def login(c: TestClient, username: str = "boss", password: str = PASSWORD, **kw: Any) -> Any:
    return c.post("/api/auth/login", json={"username": username, "password": password}, **kw)


# --- finding 2: the public default key -------------------------------------------------------------


def test_a_session_forged_with_the_old_public_key_is_refused(app_client: TestClient) -> None:
    forged, _, _ = issue(OLD_PUBLIC_SECRET, "boss", 3600)
    response = app_client.get("/api/orders", headers={"authorization": f"Bearer {forged}"})
    error(response, 401, "not_signed_in")
    assert "orders" not in response.json()
    app_client.cookies.set(SESSION_COOKIE, forged)
    error(app_client.get("/api/orders"), 401, "not_signed_in")


def test_the_old_public_key_cannot_be_configured_in_any_env() -> None:
    for env in ("dev", "test", "prod"):
        with pytest.raises(ValidationError, match="placeholder"):
            load_settings(env=env, auth={"secret_key": OLD_PUBLIC_SECRET})


def test_without_a_key_one_is_generated_owner_only_and_kept(app_client: TestClient, data_dir: Path) -> None:
    key_file = data_dir / SECRET_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    assert len(key) >= 64 and key != OLD_PUBLIC_SECRET
    token = login(app_client).json()["token"]
    with client(data_dir) as restarted:  # same data dir, same key: the session survives
        assert restarted.get("/api/auth/me", headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert key_file.read_text() == key


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / SECRET_FILE
    load_or_create(key_file)
    key_file.chmod(0o644)
    with pytest.raises(SecretKeyError, match=r"readable by other users \(mode 0644\).*chmod 600"):
        load_or_create(key_file)
    with pytest.raises(SecretKeyError):
        build_services(load_settings(data_dir=tmp_path, llm={"backend": "none"}))


def test_workers_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_or_create(tmp_path / "var" / SECRET_FILE))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == [SECRET_FILE]  # no temporary left


def test_serve_refuses_a_public_address_without_a_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(tmp_path))
    load_or_create(tmp_path / SECRET_FILE)  # a generated key does not count: workers elsewhere lack it
    for host in ("0.0.0.0", "::", "192.168.1.20", "city.example.gov.cn"):
        result = CliRunner().invoke(cli, ["serve", "--host", host])
        assert result.exit_code == 2, result.output
        assert f"refusing to listen on {host} without a signing key" in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    strong = load_settings(data_dir=tmp_path, auth={"secret_key": "k" * 48})
    assert bind_problem("0.0.0.0", strong) is None
    weak = load_settings(data_dir=tmp_path, auth={"secret_key": "short"})
    assert bind_problem("0.0.0.0", weak) is not None
    for loopback in ("127.0.0.1", "127.8.0.1", "::1", "localhost"):
        assert bind_problem(loopback, load_settings(data_dir=tmp_path)) is None


# --- finding 5: rate limits -----------------------------------------------------------------------


def test_rotating_x_forwarded_for_gives_no_more_logins(data_dir: Path) -> None:
    with client(data_dir, auth={"login_per_minute": 3, "account_login_per_minute": 100}) as c:
        codes = [
            login(c, password="wrong-password", headers={"x-forwarded-for": f"203.0.113.{i}",
                                                         "x-real-ip": f"198.51.100.{i}"}).status_code
            for i in range(5)
        ]  # fmt: skip
        assert codes == [401, 401, 401, 429, 429]
        limited = login(c, headers={"x-forwarded-for": "203.0.113.99"})  # even the right password
        error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1 and "token" not in limited.text


def test_rotating_x_forwarded_for_gives_no_more_chats(data_dir: Path) -> None:
    with client(data_dir, chat={"ip_per_minute": 2, "session_per_minute": 100}) as c:
        codes = [
            c.post("/api/chat", json={"message": "你好", "stream": False},
                   headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
            for i in range(3)
        ]  # fmt: skip
    assert codes == [200, 200, 429]


def test_dropping_the_session_cookie_escapes_no_limit(data_dir: Path) -> None:
    with client(data_dir, chat={"ip_per_minute": 3, "session_per_minute": 2}) as c:
        kept = [c.post("/api/chat", json={"message": "你好", "stream": False}).status_code for _ in range(3)]
        assert kept == [200, 200, 429]  # one session: its own limit
        c.cookies.clear()
        first = c.post("/api/chat", json={"message": "你好", "stream": False})
        assert first.status_code == 200 and COOKIE in first.cookies  # a new session, issued by the server
        c.cookies.clear()
        dropped = c.post("/api/chat", json={"message": "你好", "stream": False})
        body = error(dropped, 429, "rate_limited")  # the address's limit counts every session
        assert "网络地址" in body["message"] and int(dropped.headers["retry-after"]) >= 1


def test_a_client_chosen_session_id_is_not_honoured(app_client: TestClient) -> None:
    victim = app_client.post("/api/chat", json={"message": "建设路98号井盖破损了", "stream": False}).json()
    signed = app_client.cookies[COOKIE]
    assert signed.split(".")[0] == victim["session"]
    guesses = [
        victim["session"],  # the bare id (as the old cookie held it)
        f"{victim['session']}.{'A' * 43}",  # a forged signature
        f"{'B' * 32}.{signed.split('.')[1]}",  # another id under the victim's signature
        "attacker-chosen-session-id-0001",
    ]
    for guess in guesses:
        with TestClient(app_client.app) as attacker:
            attacker.cookies.set(COOKIE, guess)
            history = attacker.get("/api/chat/history").json()
            assert history["session"] != victim["session"] and history["messages"] == []
            reply = attacker.post("/api/chat", json={"message": "你好", "stream": False})
            assert reply.json()["session"] not in (victim["session"], guess.split(".")[0])
            assert reply.cookies[COOKIE] != guess  # replaced by a server-issued one
    sneaky = app_client.post("/api/chat", json={"message": "你好", "session": "mine", "stream": False})
    error(sneaky, 422, "invalid_request")
    with TestClient(app_client.app) as attacker:
        header = attacker.post("/api/chat", json={"message": "你好", "stream": False},
                               headers={"x-session-id": victim["session"]}).json()  # fmt: skip
        assert header["session"] != victim["session"]


def test_one_account_is_limited_from_any_number_of_addresses(data_dir: Path) -> None:
    limits = {"login_per_minute": 100, "account_login_per_minute": 3}
    with client(data_dir, peer=(PROXY, 4000), auth=limits, server={"trusted_proxies": [PROXY]}) as c:
        spellings = ["hotline", "HOTLINE", " hotline", "ｈｏｔｌｉｎｅ"]  # one account however spelled
        codes = [
            login(c, name, "wrong-password", headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
            for i, name in enumerate(spellings)
        ]
        assert codes == [401, 401, 401, 429]
        right = login(c, "hotline", headers={"x-forwarded-for": "203.0.113.200"})
        body = error(right, 429, "rate_limited")  # the right password from a fresh address: still no
        assert "此账号" in body["message"] and int(right.headers["retry-after"]) >= 1
        assert login(c, "boss", headers={"x-forwarded-for": "203.0.113.201"}).status_code == 200


def test_forwarded_addresses_are_believed_only_from_a_configured_proxy() -> None:
    none = TrustedProxies([])
    assert none.client("127.0.0.1", "203.0.113.7", "198.51.100.1") == "127.0.0.1"
    proxies = TrustedProxies([PROXY, "10.1.0.0/16"])
    assert proxies.client("192.0.2.5", "203.0.113.7", "") == "192.0.2.5"  # not from the proxy
    # the client wrote the left part; the proxies appended what they saw: right-most untrusted wins
    assert proxies.client(PROXY, "6.6.6.6, 203.0.113.7, 10.1.2.3", "") == "203.0.113.7"
    assert proxies.client(PROXY, "", "203.0.113.8") == "203.0.113.8"
    assert proxies.client(PROXY, "garbage, 10.1.2.3", "") == "10.1.2.3"
    assert proxies.client(PROXY, "10.1.2.3", "") == "10.1.2.3"
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        load_settings(server={"trusted_proxies": ["proxy.example"]})


# --- finding 11: sign-out, headers, file modes ----------------------------------------------------


def test_a_token_used_after_logout_is_refused(data_dir: Path) -> None:
    with client(data_dir) as c:
        token = login(c).json()["token"]
        other = login(c).json()["token"]  # the same user on another device
        bearer = {"authorization": f"Bearer {token}"}
        assert c.get("/api/auth/me", headers=bearer).status_code == 200
        assert c.post("/api/auth/logout", headers=bearer).status_code == 204
        body = error(c.get("/api/auth/me", headers=bearer), 401, "not_signed_in")
        assert "已退出" in body["message"]
        c.cookies.clear()
        c.cookies.set(SESSION_COOKIE, token)  # the same token as a cookie
        error(c.get("/api/orders"), 401, "not_signed_in")
        c.cookies.clear()
        assert c.get("/api/auth/me", headers={"authorization": f"Bearer {other}"}).status_code == 200
        cookie_login = login(c)  # the console's way: the cookie, signed out by the cookie
        assert c.post("/api/auth/logout").status_code == 204
        replay = {"authorization": f"Bearer {cookie_login.json()['token']}"}
        error(c.get("/api/auth/me", headers=replay), 401, "not_signed_in")
    with client(data_dir) as restarted:  # the revocation is stored, not kept in one process
        error(restarted.get("/api/auth/me", headers=bearer), 401, "not_signed_in")


def test_security_headers_and_framing(data_dir: Path, tmp_path: Path) -> None:
    with client(data_dir, server={"cors_origins": [CITY]}) as c:
        for path in ("/", "/widget.js", "/api/chat/history"):  # the residents' side: city sites may frame
            response = c.get(path)
            csp = response.headers["content-security-policy"]
            assert f"frame-ancestors 'self' {CITY}" in csp and "x-frame-options" not in response.headers
            assert response.headers["x-content-type-options"] == "nosniff"
        for path in ("/console", "/eval", "/api/orders", "/api/auth/me"):  # staff: this origin only
            response = c.get(path)
            assert "frame-ancestors 'self';" in response.headers["content-security-policy"] + ";"
            assert CITY not in response.headers["content-security-policy"]
            assert response.headers["x-frame-options"] == "SAMEORIGIN"
            assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        csp = c.get("/eval").headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert re.search(r"<script>", (STATIC / "eval.html").read_text()) is None  # its script is /eval.js
        assert csp.split("script-src")[1].split(";")[0].strip() == "'self'"  # no shipped page runs inline
        page = tmp_path / "page.html"
        page.write_text("<p>x</p><script>go()</script><script src='/a.js'></script>", encoding="utf-8")
        digest = base64.b64encode(hashlib.sha256(b"go()").digest()).decode()
        assert inline_script_hashes(tmp_path) == [
            f"'sha256-{digest}'"
        ]  # a page's own inline script, no other
        assert "cdn.jsdelivr.net" not in csp
        docs = c.get("/docs")  # the API browser alone may load its CDN scripts; nobody may frame it
        assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        assert docs.headers["x-frame-options"] == "SAMEORIGIN"
    with client(data_dir) as alone:  # no city site configured: nothing may frame anything
        assert alone.get("/").headers["x-frame-options"] == "SAMEORIGIN"


def test_data_files_are_owner_only(data_dir: Path) -> None:
    admin = "a" * 40
    with client(data_dir, auth={"admin_token": admin}) as c:
        c.post("/api/chat", json={"message": "你好", "stream": False})  # the checkpoint file exists
        upload = c.post(
            "/api/admin/documents", headers={"authorization": f"Bearer {admin}"},
            files=[("files", ("notice.md", "# 示例通知\n\n第一条 测试。\n".encode(), "text/markdown"))],
        )  # fmt: skip
    assert upload.status_code in (200, 201), upload.text
    for name in ("cityagent.db", "checkpoints.db", SECRET_FILE):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    for wal in data_dir.glob("*.db-wal"):
        assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0, wal.name
    uploads = data_dir / "uploads"
    assert stat.S_IMODE(uploads.stat().st_mode) == 0o700
    for batch in uploads.iterdir():
        assert stat.S_IMODE(batch.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in batch.iterdir())


def test_a_world_readable_database_from_before_is_made_owner_only(data_dir: Path) -> None:
    (data_dir / "cityagent.db").chmod(0o644)
    with client(data_dir) as c:
        assert c.get("/healthz").status_code == 200
    assert stat.S_IMODE((data_dir / "cityagent.db").stat().st_mode) == 0o600

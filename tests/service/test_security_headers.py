"""Outside dev mode: cookies are Secure, HttpOnly where scripts need not read them, and SameSite; CORS
answers only the city sites it is configured for; forged and expired credentials get nowhere."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import load_settings
from tests.service.conftest import PASSWORD

CITY = "https://www.example.gov.cn"


@pytest.fixture
def prod(staffed_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    shutil.copytree(staffed_dir, tmp_path / "data")
    settings = load_settings(
        env="prod", data_dir=tmp_path / "data", llm={"backend": "none"},
        auth={"secret_key": "s" * 48}, server={"cors_origins": [CITY]},
    )  # fmt: skip
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        yield client


def cookie_flags(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def test_the_residents_session_cookie_is_secure_httponly_and_lax(prod: TestClient) -> None:
    response = prod.post("/api/chat", json={"message": "你好"}, headers={"accept": "application/json"})
    (cookie,) = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert cookie.startswith("cityagent_session=")
    assert {"secure", "httponly", "samesite", "max-age"} <= cookie_flags(cookie)
    assert "samesite=lax" in cookie.lower()


def test_staff_cookies_are_secure_and_strict_and_only_the_csrf_one_is_readable(prod: TestClient) -> None:
    response = prod.post("/api/auth/login", json={"username": "hotline", "password": PASSWORD})
    cookies = {v.split("=")[0]: v for k, v in response.headers.multi_items() if k == "set-cookie"}
    session, csrf = cookies["cityagent_staff"], cookies["cityagent_csrf"]
    assert {"secure", "httponly"} <= cookie_flags(session) and "samesite=strict" in session.lower()
    assert "secure" in cookie_flags(csrf) and "httponly" not in cookie_flags(csrf)


def test_cors_answers_the_city_site_and_no_other(prod: TestClient) -> None:
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
    allowed = prod.options("/api/chat", headers={"origin": CITY, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == CITY
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = prod.options("/api/chat", headers={"origin": "https://evil.example.com", **preflight})
    assert "access-control-allow-origin" not in other.headers
    simple = prod.get("/healthz", headers={"origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in simple.headers


def test_a_forged_or_tampered_staff_token_is_refused(prod: TestClient) -> None:
    login = prod.post("/api/auth/login", json={"username": "hotline", "password": PASSWORD}).json()
    head, _, signature = login["token"].rpartition(".")
    forged = f"{head}.{'A' * len(signature)}"
    assert prod.get("/api/orders", headers={"authorization": f"Bearer {forged}"}).status_code == 401
    _, expires, token_id, good = login["token"].split(".")
    boss = f"{base64.urlsafe_b64encode(b'boss').decode().rstrip('=')}.{expires}.{token_id}.{good}"  # same MAC
    assert prod.get("/api/orders", headers={"authorization": f"Bearer {boss}"}).status_code == 401
    assert prod.get("/api/orders", headers={"authorization": f"Bearer {login['token']}"}).status_code == 200

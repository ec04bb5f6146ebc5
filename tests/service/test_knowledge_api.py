"""Search for everyone; ingestion for admins (bearer token until staff sign-in exists)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.demo_city import DOCUMENTS_DIR
from service.settings import load_settings

TOKEN = "t" * 40
DOC = DOCUMENTS_DIR / "04-住房公积金提取管理办法.md"


def make_client(tmp_path: Path, **auth: object) -> TestClient:
    settings = load_settings(
        data_dir=tmp_path, llm={"backend": "none"}, auth=auth, server={"max_upload_bytes": 200_000}
    )
    return TestClient(create_app(settings))


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path, admin_token=TOKEN) as client:
        yield client


def upload(client: TestClient, *files: tuple[str, bytes], token: str | None = TOKEN, **form: str) -> object:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        "/api/admin/documents",
        files=[("files", (name, data)) for name, data in files],
        data=form,
        headers=headers,
    )


def test_admin_endpoints_are_disabled_without_a_token(tmp_path: Path) -> None:
    with make_client(tmp_path) as client:
        response = upload(client, (DOC.name, DOC.read_bytes()))
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "admin_disabled"  # type: ignore[attr-defined]


def test_a_wrong_token_is_refused(admin: TestClient) -> None:
    response = upload(admin, (DOC.name, DOC.read_bytes()), token="x" * 40)
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "unauthorized"  # type: ignore[attr-defined]


def test_upload_then_search_cites_the_article(admin: TestClient) -> None:
    bad = ("broken.pdf", b"%PDF-1.4 not really")
    response = upload(admin, (DOC.name, DOC.read_bytes()), bad, region="示例市")
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["documents"] == 1 and body["chunks"] == 8 and body["embedded"] == 8
    assert body["failed"] == [{"file": "broken.pdf", "reason": body["failed"][0]["reason"]}]
    assert "PDF" in body["failed"][0]["reason"]
    hits = admin.get("/api/search", params={"q": "租房提取公积金每月能提多少", "k": 3}).json()["hits"]
    assert hits[0]["citation"] == "〔示例市住房公积金提取管理办法 第四条〕"
    assert "1500元" in hits[0]["text"]
    again = upload(admin, (DOC.name, DOC.read_bytes())).json()  # type: ignore[attr-defined]
    assert again["unchanged"] == 1 and again["documents"] == 0


def test_unsupported_types_and_oversized_uploads(admin: TestClient) -> None:
    response = upload(admin, ("table.xlsx", b"x"))
    assert response.status_code == 415  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "unsupported_file_type"  # type: ignore[attr-defined]
    response = upload(admin, ("big.txt", b"x" * 300_000))
    assert response.status_code == 413  # type: ignore[attr-defined]


def test_search_validates_its_parameters(admin: TestClient) -> None:
    response = admin.get("/api/search", params={"q": "", "k": 3})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "q"
    assert admin.get("/api/search", params={"q": "x", "mode": "magic"}).status_code == 422
    assert admin.get("/api/search", params={"q": "公积金"}).json()["hits"] == []  # nothing ingested yet

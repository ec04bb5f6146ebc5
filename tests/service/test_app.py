"""The service skeleton: health, readiness of every component, the error envelope, limits."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from service.app import create_app
from service.settings import Settings, load_settings
from tools.llm import LLMUnavailableError


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": tmp_path,
        "llm": {"backend": "none"},
        "vector_store": {"mode": "memory"},
    }
    return load_settings(**{**base, **overrides})


class Echo(BaseModel):
    text: str


def with_test_routes(app: FastAPI) -> FastAPI:
    router = APIRouter()

    @router.post("/echo")
    async def echo(body: Echo) -> Echo:
        return body

    @router.get("/model-down")
    async def model_down() -> None:
        raise LLMUnavailableError("the model server at http://127.0.0.1:9/v1 did not answer")

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.include_router(router)
    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = with_test_routes(create_app(settings_for(tmp_path, server={"max_body_bytes": 2048})))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_liveness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "worker": os.getpid()}


def test_readiness_with_backend_none_reports_every_component(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["components"]) == {"model", "embeddings", "vector_store", "database"}
    assert body["components"]["model"]["status"] == "disabled"
    assert body["components"]["database"] == {
        **body["components"]["database"],
        "status": "ok",
        "detail": "sqlite",
    }
    detail = body["components"]["embeddings"]["detail"]  # the default backend, with its dimension
    assert detail.startswith("use/") and "512-dim" in detail


def test_readiness_is_degraded_when_the_model_is_down(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, llm={"backend": "vllm", "base_url": "http://127.0.0.1:9/v1", "max_retries": 0}
    )
    with TestClient(create_app(settings)) as client:
        body = client.get("/readyz").json()
    assert body["status"] == "degraded"
    assert body["components"]["model"]["status"] == "down"
    assert "127.0.0.1:9" in body["components"]["model"]["detail"]


def test_readiness_is_down_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, database={"url": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    app = create_app(settings)
    with TestClient(app) as client:  # the lifespan's migration fails: the service must still answer
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["components"]["database"]["status"] == "down"


def test_validation_errors_use_the_envelope(client: TestClient) -> None:
    response = client.post("/echo", json={"txt": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == "text"
    assert error["request_id"] == response.headers["x-request-id"]


def test_not_found_uses_the_envelope(client: TestClient) -> None:
    response = client.get("/nowhere", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "Not Found",
        "field": None,
        "request_id": "req-123",
    }


def test_oversized_body_is_refused(client: TestClient) -> None:
    response = client.post("/echo", json={"text": "市" * 2000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_oversized_chunked_body_is_refused(client: TestClient) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    response = client.post("/echo", content=body(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_upstream_failure_is_503_with_its_reason(client: TestClient) -> None:
    response = client.get("/model-down")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"


def test_unexpected_error_hides_internals(client: TestClient) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret internals" not in response.text


def test_openapi_documents_the_envelope(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "ErrorEnvelope" in spec["components"]["schemas"]
    assert "/readyz" in spec["paths"]


def test_front_door_is_the_demo_city_page_with_the_widget(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/widget.js"' in page.text
    widget = client.get("/widget.js")
    assert widget.status_code == 200 and widget.headers["content-type"].startswith("text/javascript")
    assert "/api/chat" in widget.text

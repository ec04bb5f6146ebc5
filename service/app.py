"""The FastAPI application: the lifespan builds the services; routes reach them through ``deps``."""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse

from service.client_address import ClientAddressMiddleware
from service.container import Services, build_services
from service.errors import ErrorEnvelope, RequestContextMiddleware, ServiceError, install_error_handlers
from service.mcp_server import mount_mcp
from service.metrics import Metrics, MetricsMiddleware
from service.routers import chat, evaluation, health, knowledge, open311, orders, staff, subsidies
from service.security_headers import SecurityHeadersMiddleware
from service.settings import Settings, load_settings
from tools.citypack import City
from tools.privacy import install_log_masking

logger = logging.getLogger(__name__)

API_VERSION = "0.1.0"
STATIC = Path(__file__).parent / "static"


def _city_page(city: City) -> str:
    """The demo page with the city's names (escaped)."""
    names = {"city": city.name, "assistant": city.assistant, "hotline_name": city.hotline_name}
    page = (STATIC / "demo.html").read_text(encoding="utf-8")
    for key, value in names.items():
        page = page.replace("{{" + key + "}}", html.escape(value))
    return page


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the app. ``services`` lets tests hand in services they built (the app then owns them)."""
    settings = settings or (services.settings if services else load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
            install_log_masking(logging.getLogger(name))
        built = services or build_services(settings)
        app.state.services = built
        await built.start()
        metrics.watch_model(lambda: getattr(built.llm.client, "gate", None))
        logger.info("cityagent ready (llm=%s)", built.llm.client.describe)
        try:
            yield
        finally:
            await built.close()

    app = FastAPI(
        title="cityagent",
        version=API_VERSION,
        description="City-service agents: cited policy answers, work orders, 免申即享 subsidies, evaluation.",
        lifespan=lifespan,
        responses={422: {"model": ErrorEnvelope}, 503: {"model": ErrorEnvelope}},
    )
    install_error_handlers(app)
    metrics = Metrics()
    app.state.metrics = metrics
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST"],  # the widget's fetches carry the session cookie
            allow_headers=["content-type", "x-request-id"],
            allow_credentials=True,
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.server.max_body_bytes,
        upload_paths=(knowledge.UPLOAD_PATH, subsidies.IMPORT_PATH),
        max_upload_bytes=settings.server.max_upload_bytes,
        stream_paths=(knowledge.UPLOAD_PATH, subsidies.IMPORT_PATH),
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(
        SecurityHeadersMiddleware, allowed_origins=settings.server.cors_origins, static_dir=STATIC
    )
    # outermost: everything inside (limits, metrics, the access log) sees the resolved client address
    app.add_middleware(ClientAddressMiddleware, trusted_proxies=settings.server.trusted_proxies)
    app.include_router(health.router)
    app.include_router(knowledge.router)
    app.include_router(chat.router)
    app.include_router(staff.router)
    app.include_router(orders.router)
    app.include_router(evaluation.router)
    app.include_router(subsidies.router)
    app.include_router(open311.router)
    mount_mcp(app, settings.log_level)  # /mcp: the MCP server (streamable HTTP), started with the lifespan

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        """Prometheus metrics (bearer ``server.metrics_token``, or loopback clients when it is unset)."""
        token = settings.server.metrics_token
        if token is not None:
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not secrets.compare_digest(sent, token.get_secret_value()):
                raise ServiceError(401, "not_signed_in", "metrics need the bearer token")
        elif (request.client.host if request.client else "") not in ("127.0.0.1", "::1", "testclient"):
            raise ServiceError(
                403, "forbidden", "metrics are served to loopback clients unless a token is set"
            )
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", include_in_schema=False)
    async def demo_page(request: Request) -> HTMLResponse:
        """The loaded city's home page with the chat widget, as a city site would embed it."""
        return HTMLResponse(_city_page(request.app.state.services.city))

    @app.get("/console", include_in_schema=False)
    async def console() -> HTMLResponse:
        """The caseworkers' console (sign-in on the page; every API call checks the role)."""
        return HTMLResponse((STATIC / "console.html").read_text(encoding="utf-8"))

    @app.get("/console.js", include_in_schema=False)
    async def console_js() -> FileResponse:
        """The console's script."""
        return FileResponse(STATIC / "console.js", media_type="text/javascript; charset=utf-8")

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> FileResponse:
        """The chat widget: one script tag adds it to any page (no build step)."""
        return FileResponse(STATIC / "widget.js", media_type="text/javascript; charset=utf-8")

    return app

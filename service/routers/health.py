"""Liveness and readiness."""

from __future__ import annotations

import os
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from service.container import Services
from service.deps import get_services

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    """The process answers; ``worker`` is its process id (several workers share one port)."""

    status: Literal["ok"] = "ok"
    worker: int = Field(default_factory=os.getpid)


class Component(BaseModel):
    """One component's readiness."""

    status: Literal["ok", "disabled", "down"]
    detail: str
    latency_ms: float


class Readiness(BaseModel):
    """``ok``: everything answers. ``degraded``: the model is down, agents answer without it.

    ``down`` (503): the database or the vector store does not answer.
    """

    status: Literal["ok", "degraded", "down"]
    components: dict[str, Component]


_REQUIRED = ("database", "vector_store", "embeddings")


@router.get("/healthz", response_model=Liveness)
async def healthz() -> Liveness:
    """Liveness: the process is up (checks nothing else)."""
    return Liveness()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    """Readiness of the model, embeddings, vector store and database."""
    checks = await services.readiness()
    components = {name: Component(**vars(check)) for name, check in checks.items()}
    if any(components[name].status == "down" for name in _REQUIRED):
        status: Literal["ok", "degraded", "down"] = "down"
    elif components["model"].status == "down":
        status = "degraded"
    else:
        status = "ok"
    body = Readiness(status=status, components=components)
    return JSONResponse(body.model_dump(), status_code=503 if status == "down" else 200)

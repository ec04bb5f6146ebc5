"""Typed FastAPI dependencies: how routes reach the services built in the lifespan."""

from __future__ import annotations

from fastapi import Request

from service.container import Services


def get_services(request: Request) -> Services:
    """The services built by the app's lifespan."""
    services: Services = request.app.state.services
    return services

"""Dependencies for routers: the application objects live on ``app.state`` (set by the lifespan)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment.service_layer.persons import Enrollment
from services.enrollment.settings import Settings


def get_enrollment(request: Request) -> Enrollment:
    return request.app.state.enrollment  # type: ignore[no-any-return]


def get_sessionmaker(request: Request) -> async_sessionmaker[Any]:
    return request.app.state.sessionmaker  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


EnrollmentDep = Annotated[Enrollment, Depends(get_enrollment)]
SessionmakerDep = Annotated[async_sessionmaker[Any], Depends(get_sessionmaker)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

"""Dependencies for routers: the application objects live on ``app.state`` (set by the lifespan).

They are ``async``: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop per
request for reading an attribute.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment.service_layer.persons import Enrollment
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory
from services.enrollment.settings import Settings


async def get_enrollment(request: Request) -> Enrollment:
    return request.app.state.enrollment  # type: ignore[no-any-return]


async def get_sessionmaker(request: Request) -> async_sessionmaker[Any]:
    return request.app.state.sessionmaker  # type: ignore[no-any-return]


async def get_uow(request: Request) -> UnitOfWorkFactory:
    return request.app.state.uow  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


EnrollmentDep = Annotated[Enrollment, Depends(get_enrollment)]
SessionmakerDep = Annotated[async_sessionmaker[Any], Depends(get_sessionmaker)]
UnitOfWorkDep = Annotated[UnitOfWorkFactory, Depends(get_uow)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

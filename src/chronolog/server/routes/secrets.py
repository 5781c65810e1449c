"""Routes of project secrets: ``/api/v1/secrets``.

Writing, deleting and listing need ``admin``; reading a value needs
``write``, the role workers run with, so a remote worker can fetch the
credentials its jobs need. Values are never listed and never logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from ...vault import SecretInfo
from ..deps import Context, ListLimit, bounded_list, check_json, require
from ..schemas import ERROR_RESPONSES, Strict

__all__ = ["router"]

router = APIRouter(prefix="/secrets", tags=["secrets"], responses=ERROR_RESPONSES)

SecretName = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]


class SecretIn(Strict):
    """A secret's value."""

    value: str


class SecretInfoOut(BaseModel):
    """A secret's name and times (never its value)."""

    name: str
    created_at: datetime
    updated_at: datetime


class SecretOut(BaseModel):
    """A secret's value."""

    name: str
    value: str


def _info(info: SecretInfo) -> dict[str, Any]:
    return {"name": info.name, "created_at": info.created_at, "updated_at": info.updated_at}


@router.get("", response_model=list[SecretInfoOut])
def list_secrets(
    request: Request,
    ctx: Annotated[Context, Depends(require("admin"))],
    after: Annotated[str | None, Query(max_length=128, description="Names after this one.")] = None,
    limit: ListLimit = 1000,
) -> Response:
    """This project's secret names (values are never listed); a ``Link: rel="next"``
    header continues a long list."""
    found = [s for s in ctx.cl.secrets.list() if after is None or s.name > after][:limit]
    return bounded_list(request, found, _info, after="after", key=lambda s: s.name, limit=limit)


@router.put("/{name}", response_model=SecretInfoOut)
def put_secret(
    name: SecretName, body: SecretIn, ctx: Annotated[Context, Depends(require("admin"))]
) -> dict[str, Any]:
    """Create or replace a secret."""
    check_json(body.value, "value")
    return _info(ctx.cl.secrets.set(name, body.value))


@router.get("/{name}", response_model=SecretOut)
def get_secret(
    name: SecretName, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """A secret's value (write role: what this project's workers hold)."""
    return {"name": name, "value": ctx.cl.secrets.get(name)}


@router.delete("/{name}", status_code=204)
def delete_secret(name: SecretName, ctx: Annotated[Context, Depends(require("admin"))]) -> None:
    """Delete a secret."""
    ctx.cl.secrets.delete(name)

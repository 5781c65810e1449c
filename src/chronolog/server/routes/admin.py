"""Routes of auth and tenancy: who am I, tokens and members of the token's project."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from ...auth import ApiToken, Role
from ..deps import Context, ListLimit, bounded_list, check_json, require
from ..schemas import ERROR_RESPONSES, Strict

__all__ = ["router"]

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)

TokenId = Annotated[int, Path(ge=1, le=2**63 - 1)]
UserName = Annotated[str, Path(min_length=1, max_length=255)]


class WhoAmI(BaseModel):
    """The token's project, effective role and user."""

    project: str
    role: Role
    token_id: int
    user: str | None


class TokenOut(BaseModel):
    """A token's public record (never the token itself)."""

    id: int
    project: str
    name: str
    prefix: str
    role: Role
    user: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    session_of: int | None = Field(
        default=None,
        description="A dashboard session: the token it was opened with (revoking that "
        "token ends it).",
    )


class NewTokenIn(Strict):
    """A token to issue; ``expires_in`` is a duration such as ``30d``."""

    name: str = Field(min_length=1, max_length=200)
    role: Role = "read"
    user: str | None = None
    expires_in: str | None = Field(default=None, examples=["30d"])
    expires_at: AwareDatetime | None = None


class NewTokenOut(BaseModel):
    """The issued token: ``secret`` is shown this once and never again."""

    secret: str
    token: TokenOut


class MemberIn(Strict):
    """A member's role (the user is created if new)."""

    role: Role
    display_name: str | None = Field(default=None, max_length=255)


class MemberOut(BaseModel):
    """A user's membership of the project."""

    user: str
    display_name: str | None
    role: Role
    since: datetime


def _token(token: ApiToken) -> dict[str, Any]:
    return token.to_dict()


@router.get("/whoami", response_model=WhoAmI)
def whoami(ctx: Annotated[Context, Depends(require("read"))]) -> dict[str, Any]:
    """The project and role of the calling token."""
    p = ctx.principal
    return {"project": p.project, "role": p.role, "token_id": p.token_id, "user": p.user}


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(
    request: Request,
    ctx: Annotated[Context, Depends(require("admin"))],
    include_revoked: bool = False,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Tokens after this id.")
    ] = None,
    limit: ListLimit = 1000,
) -> Response:
    """This project's tokens by id; a ``Link: rel="next"`` header continues a long list."""
    tokens = ctx.cl.auth.tokens(include_revoked=include_revoked)
    tokens = [t for t in tokens if after is None or t.id > after][:limit]
    return bounded_list(request, tokens, _token, after="after", key=lambda t: t.id, limit=limit)


@router.post("/tokens", status_code=201, response_model=NewTokenOut)
def create_token(
    body: NewTokenIn, ctx: Annotated[Context, Depends(require("admin"))]
) -> dict[str, Any]:
    """Issue a token for this project (at most the caller's own role: admin)."""
    check_json(body.model_dump(mode="json"))
    issued = ctx.cl.auth.create_token(
        body.name, body.role, user=body.user, expires_in=body.expires_in, expires_at=body.expires_at
    )
    return {"secret": issued.secret, "token": _token(issued.token)}


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(
    token_id: TokenId, ctx: Annotated[Context, Depends(require("admin"))]
) -> dict[str, Any]:
    """Revoke a token of this project."""
    return _token(ctx.cl.auth.revoke_token(token_id))


@router.get("/members", response_model=list[MemberOut])
def list_members(
    request: Request,
    ctx: Annotated[Context, Depends(require("admin"))],
    after: Annotated[
        str | None, Query(max_length=255, description="Members after this user.")
    ] = None,
    limit: ListLimit = 1000,
) -> Response:
    """This project's members by user name; a ``Link: rel="next"`` continues a long list."""
    members = [m for m in ctx.cl.auth.members() if after is None or m.user > after][:limit]
    return bounded_list(
        request,
        members,
        lambda m: {
            "user": m.user,
            "display_name": m.display_name,
            "role": m.role,
            "since": m.since,
        },
        after="after",
        key=lambda m: m.user,
        limit=limit,
    )


@router.put("/members/{user}", response_model=MemberOut)
def set_member(
    user: UserName, body: MemberIn, ctx: Annotated[Context, Depends(require("admin"))]
) -> dict[str, Any]:
    """Add a user to this project, or change their role."""
    check_json(body.model_dump())
    m = ctx.cl.auth.set_member(user, body.role, display_name=body.display_name)
    return {"user": m.user, "display_name": m.display_name, "role": m.role, "since": m.since}


@router.delete("/members/{user}", status_code=204)
def remove_member(user: UserName, ctx: Annotated[Context, Depends(require("admin"))]) -> None:
    """Remove a user from this project; their tokens for it stop working."""
    ctx.cl.auth.remove_member(user)

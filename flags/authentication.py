"""REST authentication and permissions: Bearer keys only, 401 for bad credentials, 403 for roles."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from flags.api_keys import (
    ANONYMOUS_DEVELOPER,
    Principal,
    auth_enabled,
    authenticate_bearer,
)

READ_ROLES = frozenset({"admin", "server"})
WRITE_ROLES = frozenset({"admin"})
QUERY_KEY_PARAMETER = "sdk_key"


class BearerKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`; a `?sdk_key=` on REST is refused (only /stream takes it)."""

    def authenticate(self, request: Request) -> tuple[Principal, Principal] | None:
        if QUERY_KEY_PARAMETER in request.query_params:
            raise exceptions.AuthenticationFailed(
                "Keys in the URL are accepted only by /stream; send Authorization: Bearer <key>."
            )
        header = get_authorization_header(request).split()
        if not header:
            # Development without keys (SIDEKICK_AUTH_DISABLED): only a request with no
            # credentials is anonymous; a key that is sent is still checked.
            return None if auth_enabled() else (ANONYMOUS_DEVELOPER, ANONYMOUS_DEVELOPER)
        if header[0].lower() != b"bearer" or len(header) != 2:
            raise exceptions.AuthenticationFailed("Expected Authorization: Bearer <key>.")
        try:
            raw_key = header[1].decode("utf-8")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("Invalid API key.") from error
        principal = authenticate_bearer(raw_key)
        if principal is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return principal, principal

    def authenticate_header(self, request: Request) -> str:
        # Present, so DRF answers 401 (not 403) when credentials are missing.
        return 'Bearer realm="sidekick"'


def _principal(request: Request) -> Principal | None:
    auth = request.auth
    return auth if isinstance(auth, Principal) else None


class _RolePermission(BasePermission):
    roles: frozenset[str] = frozenset()
    message = "This API key's role may not do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = _principal(request)
        if principal is None:
            raise exceptions.NotAuthenticated("Send Authorization: Bearer <key>.")
        return principal.role in self.roles


class CanReadFlags(_RolePermission):
    """admin and server keys."""

    roles = READ_ROLES


class CanWriteFlags(_RolePermission):
    """admin keys only."""

    roles = WRITE_ROLES


class ReadOrWriteByMethod(BasePermission):
    """Safe methods need a read role, everything else the write role."""

    message = _RolePermission.message

    def has_permission(self, request: Request, view: Any) -> bool:
        permission = (
            CanReadFlags() if request.method in ("GET", "HEAD", "OPTIONS") else CanWriteFlags()
        )
        return permission.has_permission(request, view)

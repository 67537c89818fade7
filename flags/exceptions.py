"""Errors the service layer raises; the REST exception handler maps each to one status code."""

from __future__ import annotations


class FlagValidationError(Exception):
    """Bad input: `errors` maps field paths (`rules[2].operator`) to messages."""

    def __init__(self, errors: dict[str, list[str]], detail: str = "Invalid flag.") -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class FlagNotFound(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(f"No flag with key {key!r}.")
        self.key = key


class VersionMismatch(Exception):
    """An If-Match precondition named a version that is not the current one (HTTP 412)."""

    def __init__(self, key: str, expected: int, current: int | None) -> None:
        shown = "no such flag" if current is None else f"current version is {current}"
        super().__init__(f"Flag {key!r}: If-Match named version {expected}, {shown}.")
        self.key = key
        self.expected = expected
        self.current = current


class ResourceNotFound(Exception):
    """No such project or environment (HTTP 404)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Conflict(Exception):
    """The change cannot be made in the current state (HTTP 409), e.g. keys still bound to it."""

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}

"""What can be wrong with an Open311 request.

::

    Open311Error
    ├── InvalidRequestError    a parameter is missing or wrong (names the field) -> 400
    └── UnknownClientError     no client app of that name (CLI: issue or revoke) -> one line
"""

from __future__ import annotations


class Open311Error(Exception):
    """Base of the Open311 errors."""


class InvalidRequestError(Open311Error):
    """A parameter is missing or wrong; ``field`` names it (as the client sent it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownClientError(Open311Error):
    """No client app has this name."""

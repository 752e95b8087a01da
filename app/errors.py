"""Errors the domain raises; their message is written for the person using the system."""


class DomainError(Exception):
    """A refused action, with a message in Vietnamese that says what and why."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class PermissionDenied(DomainError):
    """The actor may not do this (role or unit scope)."""

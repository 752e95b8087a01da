"""Audit trail (being built)."""


def install() -> None:
    return None

"""The password rule, shared by FAB's forms (config), imports and the CLI."""

from __future__ import annotations

import re

PASSWORD_RULE = (
    "Mật khẩu phải có ít nhất 10 ký tự, gồm chữ hoa, chữ thường, chữ số và ký tự đặc biệt."
)


def password_problem(password: str) -> str | None:
    """The reason a password is too weak, or None."""
    password = password or ""
    if (
        len(password) < 10
        or not re.search(r"[A-Z]", password)
        or not re.search(r"[a-z]", password)
        or not re.search(r"\d", password)
        or not re.search(r"[^A-Za-z0-9]", password)
    ):
        return PASSWORD_RULE
    return None


def password_complexity(password: str) -> None:
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: raise ValidationError on a weak password."""
    from wtforms.validators import ValidationError

    problem = password_problem(password)
    if problem:
        raise ValidationError(problem)

"""The demo province shows reminders in the bell of a demo entry account whose report is due."""

from __future__ import annotations

from sqlalchemy import select


def test_demo_entry_accounts_have_unread_reminders(session):
    from app.demo import DEMO_REMINDED, load_demo
    from app.models import AppUser
    from app.notifications import unread_count

    load_demo(session)
    session.commit()
    users = session.scalars(select(AppUser).where(AppUser.username.in_(DEMO_REMINDED))).all()
    assert users
    counts = {u.username: unread_count(session, u.id) for u in users}
    assert any(counts.values()), counts
    load_demo(session)  # a second load records nothing twice
    session.commit()
    assert {u.username: unread_count(session, u.id) for u in users} == counts

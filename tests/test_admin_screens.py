"""What a unit admin does on the generated screens: regimes for the own subtree, password resets."""

from __future__ import annotations

from sqlalchemy import select

from app.models import AppUser, Regime
from app.roles import DATA_ENTRY, UNIT_ADMIN
from tests import factories


def _units(session):
    province = factories.unit(session, "UBND tỉnh Thử", type_code="province_committee")
    dept_a = factories.unit(session, "Sở A", parent=province)
    dept_b = factories.unit(session, "Sở B", parent=province)
    commune = factories.unit(session, "Xã A1", parent=dept_a, type_code="commune")
    factories.user(session, "qtv_a", dept_a, [UNIT_ADMIN])
    factories.user(session, "nv_a1", commune, [DATA_ENTRY])
    factories.user(session, "nv_b", dept_b, [DATA_ENTRY])
    session.commit()
    return province, dept_a, dept_b, commune


def _regime_form(code, owner, lead, receiving, reporting):
    return {
        "code": code, "name": f"Báo cáo chuyên đề {code}", "kind": "thematic",
        "frequency": "quarter", "report_kind": "numeric",
        "deadline_rule": "working_days_after_cutoff", "deadline_working_days": "3",
        "deadline_month_offset": "0", "owner_unit": str(owner.id), "lead_unit": str(lead.id),
        "receiving_unit": str(receiving.id), "reporting_units": [str(u.id) for u in reporting],
        "active": "y",
    }


def test_unit_admin_creates_a_regime_for_its_own_subtree_only(client, session):
    province, dept_a, dept_b, commune = _units(session)
    factories.login(client, "qtv_a")
    client.post("/regimeview/add", data=_regime_form("CD-A", dept_a, dept_a, dept_a, [commune]))
    created = session.scalar(select(Regime).where(Regime.code == "CD-A"))
    assert created is not None
    assert [u.name for u in created.reporting_units] == ["Xã A1"]
    client.post("/regimeview/add", data=_regime_form("CD-X", dept_b, dept_b, dept_b, [commune]))
    assert session.scalar(select(Regime).where(Regime.code == "CD-X")) is None



def test_the_reminder_schedule_is_prefilled_checked_and_may_be_emptied(client, session):
    province, dept_a, dept_b, commune = _units(session)
    factories.login(client, "qtv_a")
    form = client.get("/regimeview/add").get_data(as_text=True)
    assert 'value="-3,-1,0,1,3"' in form
    client.post("/regimeview/add", data=_regime_form("CD-1", dept_a, dept_a, dept_a, [commune]))
    assert session.scalar(select(Regime).where(Regime.code == "CD-1")).reminder_offsets == \
        "-3,-1,0,1,3"
    page = client.post("/regimeview/add", data=_regime_form(
        "CD-2", dept_a, dept_a, dept_a, [commune]) | {"reminder_offsets": "-3, một"})
    assert "Lịch nhắc không hợp lệ: «-3, một»" in page.get_data(as_text=True)
    assert session.scalar(select(Regime).where(Regime.code == "CD-2")) is None
    client.post("/regimeview/add", data=_regime_form(
        "CD-3", dept_a, dept_a, dept_a, [commune]) | {"reminder_offsets": "2; -5,0"})
    assert session.scalar(select(Regime).where(Regime.code == "CD-3")).reminder_offsets == \
        "-5,0,2"
    client.post("/regimeview/add", data=_regime_form(
        "CD-4", dept_a, dept_a, dept_a, [commune]) | {"reminder_offsets": ""})
    assert session.scalar(select(Regime).where(Regime.code == "CD-4")).reminder_offsets == ""

def test_unit_admin_resets_a_password_inside_the_subtree_only(client, session):
    _units(session)
    inside = session.scalar(select(AppUser).where(AppUser.username == "nv_a1"))
    outside = session.scalar(select(AppUser).where(AppUser.username == "nv_b"))
    old_outside_hash = outside.password
    factories.login(client, "qtv_a")
    new_password = {"password": "Mat-khau-Moi-2026", "conf_password": "Mat-khau-Moi-2026"}
    assert client.get(f"/resetpassword/form?pk={outside.id}").status_code == 404
    refused = client.post(f"/resetpassword/form?pk={outside.id}", data=new_password)
    assert refused.status_code == 404
    client.post(f"/resetpassword/form?pk={inside.id}", data=new_password)
    session.expire_all()
    assert session.get(AppUser, outside.id).password == old_outside_hash
    assert session.get(AppUser, inside.id).must_change_password is True
    client.get("/logout/")
    other = client.application.test_client()
    landing = factories.login(other, "nv_a1", "Mat-khau-Moi-2026")
    assert "/resetmypassword/form" in landing.request.path

"""Publishing a form from an Excel template: upload → preview and mapping → publish."""

from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import func, select

from app.models import Breakdown, BreakdownOption, FormVersion, Indicator, Regime, ValueColumn
from app.roles import PROVINCIAL_ADMIN, UNIT_ADMIN
from app.specs.model import FormSpec
from app.views.forms_admin import SESSION_KEY, default_code, storage_dir
from tests import factories

TEMPLATES = Path(__file__).parent / "data" / "templates"
KTXH = (TEMPLATES / "ktxh_thang.xlsx").read_bytes()
CATALOGUE_COLUMNS = [
    ("plan_year", "Kế hoạch năm"),
    ("actual_month", "Thực hiện tháng"),
    ("estimate_month", "Ước thực hiện tháng"),
    ("cumulative_ytd", "Lũy kế từ đầu năm"),
    ("same_period_last_year", "So với cùng kỳ năm trước (%)"),
    ("plan_ratio", "So với kế hoạch năm (%)"),
]


def _world(session):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    planning = factories.unit(session, "Sở Kế hoạch và Đầu tư", parent=province)
    finance = factories.unit(session, "Sở Tài chính", parent=province)
    regimes = {
        "province": Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=province,
                           lead_unit=province, receiving_unit=province),
        "planning": Regime(code="KHDT", name="Báo cáo đầu tư tháng", owner_unit=planning,
                           lead_unit=planning, receiving_unit=planning),
        "finance": Regime(code="TC", name="Báo cáo thu chi ngân sách", owner_unit=finance,
                          lead_unit=finance, receiving_unit=finance),
    }
    session.add_all(regimes.values())
    for order, (key, name) in enumerate(CATALOGUE_COLUMNS):
        session.add(ValueColumn(key=key, name=name, sort_order=order))
    sex = Breakdown(code="sex", name="Giới tính")
    sex.options = [BreakdownOption(code="male", name="Nam", sort_order=1),
                   BreakdownOption(code="female", name="Nữ", sort_order=2)]
    session.add(sex)
    factories.user(session, "tinh", province, [PROVINCIAL_ADMIN])
    factories.user(session, "quantriso", planning, [UNIT_ADMIN])
    session.commit()
    return regimes


def _upload(client, regime, data=KTXH, filename="ktxh_thang.xlsx", code=""):
    return client.post(
        "/forms/upload/",
        data={"regime": str(regime.id), "code": code, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _token(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.search(r"/forms/upload/([A-Za-z0-9_-]{20,64})$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def _form_values(html: str) -> dict[str, str]:
    """The mapping choices the page preselects, as the browser would post them back."""
    values = {}
    for name, body in re.findall(r'<select[^>]*name="((?:row|col|bd):[^"]+)"[^>]*>(.*?)</select>',
                                 html, flags=re.S):
        selected = re.search(r'<option value="([^"]*)" selected', body)
        values[name] = selected.group(1) if selected else ""
    return values


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def _spec_files() -> set[str]:
    return {p.name for p in storage_dir().iterdir()}


def test_default_code_comes_from_the_file_name():
    assert default_code("ktxh_thang.xlsx") == "ktxh_thang"
    assert default_code("Biểu 01 - Đầu tư.xlsx") == "Bieu_01_-_Dau_tu"
    assert default_code("«».xlsx") == "BIEU_MAU"


def test_upload_preview_create_missing_map_and_publish(client, session):
    regimes = _world(session)
    factories.login(client, "tinh")
    page = client.get("/forms/upload/")
    assert page.status_code == 200
    assert "KTXH — Báo cáo KTXH tháng" in page.get_data(as_text=True)

    token = _token(_upload(client, regimes["province"]))
    assert _count(session, FormVersion) == 0  # nothing stored before publishing
    html = client.get(f"/forms/upload/{token}").get_data(as_text=True)
    # the preview: the entry page's grid, entry cells highlighted
    assert 'id="form-preview"' in html and 'class="entry-table"' in html
    assert html.count('class="cell-entry') == 146
    assert ">Thực hiện tháng 10/2026</th>" in html and "Diện tích gieo trồng lúa" in html
    # unmatched rows listed, with the one action that creates them
    assert 'id="unmatched-rows"' in html and "chưa khớp" in html
    assert "Tạo chỉ tiêu còn thiếu" in html
    assert "dòng «Diện tích gieo trồng lúa» chưa gắn với chỉ tiêu trong danh mục" in html
    # value columns: the catalogue key suggested from the header words
    values = _form_values(html)
    assert values["col:c5"] == "actual_month" and values["col:c4"] == "plan_year"
    indicator_rows = [k for k in values if k.startswith("row:")]
    assert len(indicator_rows) >= 10 and all(values[k] == "" for k in indicator_rows)

    response = client.post(f"/forms/upload/{token}", data={"action": "create_missing"})
    assert response.status_code == 302
    assert _count(session, Indicator) == len(indicator_rows)
    created = session.scalar(select(Indicator).where(Indicator.name == "Diện tích gieo trồng lúa"))
    assert created.unit_of_measure == "ha" and created.owner_unit == regimes["province"].owner_unit
    html = client.get(f"/forms/upload/{token}").get_data(as_text=True)
    assert 'id="unmatched-rows"' not in html and 'id="integrity-ok"' in html
    values = _form_values(html)
    assert values["row:r12"] == created.code

    values.update({"col:c8": "same_period_last_year", "bd:c6": "sex:female", "action": "publish"})
    response = client.post(f"/forms/upload/{token}", data=values)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    version = session.scalars(select(FormVersion)).one()
    assert response.headers["Location"].endswith(f"/forms/show/{version.id}")
    assert (version.code, version.version, version.status) == ("ktxh_thang", 1, "published")
    assert version.regime_id == regimes["province"].id
    assert version.owner_unit_id == regimes["province"].owner_unit_id
    assert version.source_workbook == KTXH and version.source_filename == "ktxh_thang.xlsx"
    spec = FormSpec.from_json(version.spec_json)
    rows = [r for r in spec.rows if r.kind == "indicator"]
    assert rows and all(r.indicator_code for r in rows)
    columns = {c.key: c for s in spec.sheets for t in s.tables for c in t.columns}
    assert columns["c5"].catalogue_key == "actual_month"
    assert columns["c6"].breakdown == "sex:female"
    assert columns["c5"].header_template == "Thực hiện tháng {month}/{year}"
    assert token + ".xlsx" not in _spec_files()  # the private copy is gone
    with client.session_transaction() as web_session:
        assert SESSION_KEY not in web_session

    listing = client.get("/forms/list/").get_data(as_text=True)
    assert "ktxh_thang" in listing and "Đã ban hành" in listing
    shown = client.get(f"/forms/show/{version.id}").get_data(as_text=True)
    assert "MỘT SỐ CHỈ TIÊU KINH TẾ" in shown

    # the same file again, published without any change: the same version, no v2
    token = _token(_upload(client, regimes["province"]))
    html = client.get(f"/forms/upload/{token}").get_data(as_text=True)
    assert 'id="integrity-ok"' in html
    response = client.post(f"/forms/upload/{token}", data={**_form_values(html), "action": "publish"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/forms/show/{version.id}")
    assert _count(session, FormVersion) == 1
    assert "không tạo phiên bản mới" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_text_file_renamed_xlsx_is_refused_and_nothing_is_stored(client, session):
    regimes = _world(session)
    factories.login(client, "tinh")
    before = _spec_files()
    response = _upload(client, regimes["province"], data=b"ma;ten\n01;Dan so\n", filename="bieu.xlsx")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "là tệp văn bản (CSV/TXT) được đổi đuôi" in html
    assert _spec_files() == before
    assert _count(session, FormVersion) == 0
    with client.session_transaction() as web_session:
        assert SESSION_KEY not in web_session


def test_publishing_with_an_unmapped_row_is_refused(client, session):
    regimes = _world(session)
    factories.login(client, "tinh")
    token = _token(_upload(client, regimes["province"], code="KTXH-B01"))
    client.post(f"/forms/upload/{token}", data={"action": "create_missing"})
    values = _form_values(client.get(f"/forms/upload/{token}").get_data(as_text=True))
    values.update({"row:r12": "", "action": "publish"})
    response = client.post(f"/forms/upload/{token}", data=values)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Chưa ban hành được" in html
    assert "dòng «Diện tích gieo trồng lúa» chưa gắn với chỉ tiêu trong danh mục" in html
    assert _count(session, FormVersion) == 0
    # the refusal kept the choice: the row is still unmapped on the next visit
    html = client.get(f"/forms/upload/{token}").get_data(as_text=True)
    assert _form_values(html)["row:r12"] == ""


def test_two_rows_on_one_indicator_and_unknown_choices_are_refused(client, session):
    regimes = _world(session)
    factories.login(client, "tinh")
    token = _token(_upload(client, regimes["province"]))
    client.post(f"/forms/upload/{token}", data={"action": "create_missing"})
    values = _form_values(client.get(f"/forms/upload/{token}").get_data(as_text=True))
    values.update({"row:r13": values["row:r12"], "action": "publish"})
    response = client.post(f"/forms/upload/{token}", data=values)
    assert response.status_code == 422
    assert "gắn cho hai dòng (dòng 12 và dòng 13)" in response.get_data(as_text=True)

    values.update({"row:r13": "KHONG-CO", "bd:c5": "sex:other", "action": "check"})
    response = client.post(f"/forms/upload/{token}", data=values)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "chỉ tiêu «KHONG-CO» không có trong danh mục đang áp dụng" in html
    assert "phân tổ «sex:other» không có trong danh mục" in html
    assert _count(session, FormVersion) == 0


def test_a_template_with_errors_is_listed_with_its_place(client, session, monkeypatch):
    from app.specs.model import Problem

    regimes = _world(session)
    factories.login(client, "tinh")
    real = __import__("app.specs.loader", fromlist=["load_spec"]).load_spec

    def broken(*args, **kwargs):
        spec = real(*args, **kwargs)
        spec.problems.append(Problem("ô gộp chồng lên nhau", sheet="Biểu 01", row=7, column="D"))
        return spec

    monkeypatch.setattr("app.views.forms_admin.load_spec", broken)
    response = _upload(client, regimes["province"])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "ô gộp chồng lên nhau" in html and "<td>Biểu 01</td><td>7</td><td>D</td>" in html
    assert _count(session, FormVersion) == 0


def test_a_unit_admin_chooses_only_regimes_of_their_subtree(client, session):
    regimes = _world(session)
    factories.login(client, "quantriso")
    page = client.get("/forms/upload/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "KHDT — Báo cáo đầu tư tháng" in html
    assert "TC — Báo cáo thu chi ngân sách" not in html and "KTXH — Báo cáo KTXH tháng" not in html
    before = _spec_files()
    for foreign in (regimes["finance"], regimes["province"]):
        response = _upload(client, foreign)
        assert response.status_code == 422
        assert "Chọn một chế độ báo cáo thuộc phạm vi quản lý của bạn." in response.get_data(as_text=True)
    assert _spec_files() == before
    # their own regime works, and the indicators they create belong to their department
    token = _token(_upload(client, regimes["planning"], code="KHDT-B01"))
    client.post(f"/forms/upload/{token}", data={"action": "create_missing"})
    owners = set(session.scalars(select(Indicator.owner_unit_id)))
    assert owners == {regimes["planning"].owner_unit_id}
    values = _form_values(client.get(f"/forms/upload/{token}").get_data(as_text=True))
    response = client.post(f"/forms/upload/{token}", data={**values, "action": "publish"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert session.scalars(select(FormVersion.code)).all() == ["KHDT-B01"]
    assert client.get("/forms/list/").status_code == 200


def test_a_unit_admin_cannot_publish_over_a_code_owned_elsewhere(client, session):
    regimes = _world(session)
    factories.login(client, "tinh")
    token = _token(_upload(client, regimes["province"], code="KTXH-B01"))
    client.post(f"/forms/upload/{token}", data={"action": "create_missing"})
    values = _form_values(client.get(f"/forms/upload/{token}").get_data(as_text=True))
    assert client.post(f"/forms/upload/{token}", data={**values, "action": "publish"}).status_code == 302
    client.get("/logout/")
    factories.login(client, "quantriso")
    response = _upload(client, regimes["planning"], code="KTXH-B01")
    assert response.status_code == 422
    assert "đã được đơn vị khác ban hành" in response.get_data(as_text=True)


def test_another_users_token_is_not_accepted(client, session):
    regimes = _world(session)
    factories.login(client, "tinh")
    token = _token(_upload(client, regimes["province"]))
    client.get("/logout/")
    factories.login(client, "quantriso")
    response = client.get(f"/forms/upload/{token}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/forms/upload/")


def test_every_sample_template_previews_and_maps(client, session):
    """Real templates (several sheets, entity tables, formulas): the preview draws every entry
    cell, and after creating the missing indicators only formula problems may remain."""
    import pytest

    from app.specs.loader import load_spec

    regimes = _world(session)
    factories.login(client, "tinh")
    paths = sorted(TEMPLATES.glob("*.xlsx")) + sorted((TEMPLATES / "real").glob("*.xlsx"))
    assert len(paths) >= 4
    for number, path in enumerate(paths):
        data = path.read_bytes()
        spec = load_spec(data, filename=path.name)
        if spec.errors:
            pytest.fail(f"{path.name}: {spec.errors[0]}")
        token = _token(_upload(client, regimes["province"], data=data, filename=path.name,
                               code=f"MAU-{number}"))
        response = client.post(f"/forms/upload/{token}", data={"action": "create_missing"})
        assert response.status_code == 302, path.name
        html = client.get(f"/forms/upload/{token}").get_data(as_text=True)
        assert html.count('class="cell-entry') == len(spec.entry_cells), path.name
        assert 'id="unmatched-rows"' not in html, path.name
        assert "chưa gắn với chỉ tiêu trong danh mục" not in html, path.name

from app.roles import PROVINCIAL_ADMIN
from tests import factories


def test_login_page_is_vietnamese(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert "Đăng nhập" in response.get_data(as_text=True)


def test_admin_sees_unit_tree(client, session):
    province = factories.unit(session, "UBND tỉnh Đồng Tháp", type_code="province_committee")
    factories.unit(session, "Sở Tài chính", parent=province)
    factories.user(session, "admin", province, [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "admin")
    page = client.get("/units/tree/").get_data(as_text=True)
    assert "Sở Tài chính" in page

"""Access records (seed 004 Art. 5.2: nobody copies or discloses report data without
permission): log-ins (success and failure, with the address), exports, downloads of reports and
signed PDFs, and API reads. Written beside the audit trail, never changed."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.forms import utcnow

ACCESS_ACTIONS = {
    "login": "Đăng nhập",
    "login_failed": "Đăng nhập không thành công",
    "export": "Kết xuất số liệu",
    "download": "Tải báo cáo, tệp",
    "signed_pdf": "Tải tệp PDF đã ký",
    "api_read": "Đọc qua API",
}


class AccessRecord(Model):
    __tablename__ = "access_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), index=True)
    # as typed at a failed log-in, or the account's at any other record
    username: Mapped[str | None] = mapped_column(String(256))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[int | None] = mapped_column(Integer)
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user = relationship("AppUser")
    unit = relationship("Unit")

    def __repr__(self) -> str:
        return f"{self.action} {self.username or ''} {self.target or ''}"

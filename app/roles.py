"""The seed roles (DOMAIN.md, seed 000/002) and what each may reach.

Role names are what people see on screen, so they are Vietnamese. Permissions are declared as
(view-name pattern, permission pattern) pairs and synchronised into FAB's tables by
``sync_roles()`` on every start, like Airflow's ROLE_CONFIGS.
"""

PROVINCIAL_ADMIN = "Quản trị cấp tỉnh"
UNIT_ADMIN = "Quản trị cấp đơn vị"
AGGREGATOR = "Tổng hợp"
APPROVER = "Lãnh đạo duyệt"
SIGNER = "Ký số, gửi báo cáo"
DATA_ENTRY = "Nhập liệu"
VIEWER = "Xem báo cáo"

SEED_ROLES = [PROVINCIAL_ADMIN, UNIT_ADMIN, AGGREGATOR, APPROVER, SIGNER, DATA_ENTRY, VIEWER]

READ = r"(can_list|can_show|can_get|can_info|can_download|can_tree)"
ANY = r".*"

_CATALOGUE_VIEWS = (
    r"(IndicatorView|IndicatorApi|IndicatorGroupView|ValueColumnView|BreakdownView|BreakdownOptionView)"
)
_MENUS_FOR_ALL = (
    r"(Đơn vị|Cây đơn vị|Danh mục đơn vị|Chỉ tiêu|Danh mục chỉ tiêu|Nhóm chỉ tiêu|Cột số liệu"
    r"|Phân tổ|Chế độ báo cáo|Kỳ báo cáo|Ngày nghỉ, làm bù)"
)
_READ_COMMON = [
    (r"(UnitView|UnitApi|UnitTreeView|UnitTypeView)", READ),
    (r"(RegimeView|RegimeApi|PeriodView|PeriodApi|CalendarDayView)", READ),
    (_CATALOGUE_VIEWS, READ),
    (_MENUS_FOR_ALL, "menu_access"),
    (r"(UserInfoEditView|ResetMyPasswordView)", ANY),
    (r"AppUserView", r"(can_userinfo|can_userinfoedit|can_resetmypassword)"),
    # the API's OpenAPI document and Swagger UI (app/views/reports_api.py)
    (r"(OpenApi|SwaggerView)", r"(can_get|can_show)"),
]

# Reports: the list and the entry page (entry roles fill and save; the others read).
# the REST API of reports, values and the dataValueSets import follows the screens: entry
# roles read and write, the others read (app/views/reports_api.py)
_REPORT_VIEWS = r"(ReportView|ReportEntryView|ReportApi|ReportValueApi|DataValueSetApi)"
_REPORT_MENUS = (r"(Báo cáo|Danh sách báo cáo)", "menu_access")
_REPORT_ENTRY = [(_REPORT_VIEWS, ANY), _REPORT_MENUS]
_REPORT_READ = [
    (_REPORT_VIEWS, READ), (r"ReportEntryView", r"(can_check|can_workbook)"), _REPORT_MENUS,
]

# Per role: the (view, permission) patterns it is granted, each matched against the whole
# name. The provincial admin is FAB's AUTH_ROLE_ADMIN and holds every permission.
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    UNIT_ADMIN: _READ_COMMON
    + [
        (r"(UnitView|UnitApi|UnitSuccessionView|UnitImportView)", ANY),
        (r"(AppUserView|AccountImportView|ScopedResetPasswordView|RegimeRoleGrantView)", ANY),
        (r"(UserUnitHistoryView|AccessRecordView)", READ),
        (r"(RegimeView|RegimeApi|PeriodView|PeriodApi)", ANY),
        (_CATALOGUE_VIEWS, ANY),
        (r"IndicatorImportView", ANY),
        (r"(FormUploadView|FormVersionView)", ANY),
        (r"IndicatorResponsibilityView", ANY),
        (
            r"(Sáp nhập, chia tách|Nhập danh sách đơn vị|Tài khoản|Phân quyền theo chế độ"
            r"|Lịch sử đơn vị công tác|Nhật ký truy cập|Nhập danh sách tài khoản"
            r"|Nhập danh mục chỉ tiêu"
            r"|Biểu mẫu|Tải lên biểu mẫu|Phân công chỉ tiêu"
            r"|Security|List Users)",
            "menu_access",
        ),
    ]
    + _REPORT_ENTRY,
    AGGREGATOR: _READ_COMMON + _REPORT_ENTRY,
    APPROVER: _READ_COMMON + _REPORT_READ,
    SIGNER: _READ_COMMON + _REPORT_READ,
    DATA_ENTRY: _READ_COMMON + _REPORT_ENTRY,
    VIEWER: _READ_COMMON + _REPORT_READ,
}

# Status board and compliance (app/views/status.py): read-only screens, scoped by unit.
_STATUS_READ = [
    (r"(StatusBoardView|ComplianceView|FiguresView|FiguresApi|DashboardView)", ANY),
    (r"(Báo cáo|Theo dõi báo cáo|Mức độ tuân thủ|Số liệu tổng hợp|Bảng điều khiển)",
     "menu_access"),
]
for _role in (AGGREGATOR, UNIT_ADMIN, VIEWER, APPROVER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _STATUS_READ
del _role

# Assignment, ad-hoc requests and the reception window (app/views/assignment.py); whoever reads
# a report may download the outline of the ad-hoc request it answers.
_ASSIGNMENT = [
    (r"(AssignmentView|AdhocRequestView|ReceptionView)", ANY),
    (r"(Báo cáo|Giao báo cáo|Báo cáo đột xuất|Đóng/mở tiếp nhận)", "menu_access"),
]
for _role in (UNIT_ADMIN, AGGREGATOR):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _ASSIGNMENT
for _role in (APPROVER, SIGNER, DATA_ENTRY, VIEWER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [(r"AdhocRequestView", r"can_outline")]
# the unit leader chooses who enters, approves and signs the unit's reports
ROLE_PERMISSIONS[APPROVER] = ROLE_PERMISSIONS[APPROVER] + [(r"AssignmentView", r"can_people")]
del _role

# The reporting cycle on the report page and the inbox (app/views/entry.py, app/views/inbox.py):
# whoever reads a report may ask for a transition (app.workflow.refusal decides who may do
# what), comment on it and read its sent versions; every unit role has an inbox.
_CYCLE = [
    (r"ReportEntryView", r"(can_transition|can_comment|can_version|can_drill|can_pdf|can_docx)"),
    (r"ReportApi", r"can_transition"),
    (r"(InboxView|SearchView|NotificationsView|SupportView)", ANY),
    (r"(Báo cáo|Việc cần làm|Tra cứu|Thông báo|Hỗ trợ)", "menu_access"),
]
for _role in (UNIT_ADMIN, AGGREGATOR, APPROVER, SIGNER, DATA_ENTRY, VIEWER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _CYCLE
del _role

# Digital signatures (app/views/signing.py): whoever reads a report reaches its signing page
# (app.signing.engine decides who may sign which stage) and the verification page; unit admins
# register certificates and images of their subtree and confirm certificates registered on
# first use. Roots of trust are the provincial admin's.
_SIGNING = [
    (r"ReportSigningView", ANY),
    (r"SignatureVerificationView", ANY),
    (r"(Ký số|Kiểm tra chữ ký số)", "menu_access"),
]
for _role in (UNIT_ADMIN, AGGREGATOR, APPROVER, SIGNER, DATA_ENTRY, VIEWER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _SIGNING
del _role
ROLE_PERMISSIONS[UNIT_ADMIN] = ROLE_PERMISSIONS[UNIT_ADMIN] + [
    (r"(SigningCertificateView|StampImageView|SigningAdminView|ApiKeyAdminView)", ANY),
    (r"Khóa API", "menu_access"),
    (r"(Chứng thư số đã đăng ký|Hình chữ ký, con dấu|Tải lên chứng thư, hình)", "menu_access"),
]

# Backfill after an outage (app/views/backfill.py): whoever reads a report reaches the backfill
# page (app.workflow decides who may send) and the scan of a backfilled sending; recording the
# outages themselves is the provincial admin's.
for _role in (UNIT_ADMIN, AGGREGATOR, APPROVER, SIGNER, DATA_ENTRY, VIEWER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [
        (r"BackfillView", r"(can_report|can_evidence)")]

# Exchange (app/views/exchange.py), when this system serves as the upper level: whoever reads
# the catalogues may pull them (đồng bộ biểu mẫu); a lower level's aggregator, signer or admin
# account sends its accepted figures and report status with an API key.
for _role in (UNIT_ADMIN, AGGREGATOR, APPROVER, SIGNER, DATA_ENTRY, VIEWER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [
        (r"ExchangeApi", r"(can_catalogue|can_schema)")]
for _role in (UNIT_ADMIN, AGGREGATOR, SIGNER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [
        (r"ExchangeApi", r"(can_report_data|can_report_status)")]
del _role

# Roles a unit admin may grant: never the provincial admin.
GRANTABLE_BY_UNIT_ADMIN = [UNIT_ADMIN, AGGREGATOR, APPROVER, SIGNER, DATA_ENTRY, VIEWER]

# Wording of the account-request sheet (seed 000, Phụ lục I) → system roles. Keys are folded
# (app.text.fold: no accents, lower case) and looked for inside the folded wording with its
# "(…)" remarks and "tài khoản" prefix removed; the first key found wins, so the more specific
# wordings come first. "Ký số, gửi báo cáo (lãnh đạo sở/huyện)" is the leader who approves,
# signs and sends (seed 000); "văn thư" signs and sends only (seed 002).
ROLE_WORDING = [
    ("quan tri cap tinh", [PROVINCIAL_ADMIN]),
    ("quan tri he thong cap tinh", [PROVINCIAL_ADMIN]),
    ("quan tri cap huyen", [UNIT_ADMIN]),
    ("quan tri cap so", [UNIT_ADMIN]),
    ("quan tri cap xa", [UNIT_ADMIN]),
    ("quan tri cap don vi", [UNIT_ADMIN]),
    ("quan tri don vi", [UNIT_ADMIN]),
    ("quan tri", [UNIT_ADMIN]),
    ("van thu", [SIGNER]),
    ("ky so", [APPROVER, SIGNER]),
    ("gui bao cao", [APPROVER, SIGNER]),
    ("tong hop", [AGGREGATOR]),
    ("nhap lieu", [DATA_ENTRY]),
    ("nhap so lieu", [DATA_ENTRY]),
    ("lanh dao", [APPROVER]),
    ("phe duyet", [APPROVER]),
    ("duyet", [APPROVER]),
    ("xem bao cao", [VIEWER]),
    ("khai thac", [VIEWER]),
    ("xem", [VIEWER]),
]

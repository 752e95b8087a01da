"""audit entry immutable on postgresql

Revision ID: 1f0e3428333b
Revises: 1aff815525e7
Create Date: 2026-11-23 17:59:57.590887

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '1f0e3428333b'
down_revision = '1aff815525e7'
branch_labels = None
depends_on = None


FUNCTION = "audit_entry_immutable"
TRIGGER = "audit_entry_immutable"


def upgrade():
    """PostgreSQL refuses UPDATE and DELETE on audit_entry (appends only). TRUNCATE stays possible."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit_entry chỉ được ghi thêm: không được % bản ghi nhật ký', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER {TRIGGER}
        BEFORE UPDATE OR DELETE ON audit_entry
        FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()
        """
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON audit_entry")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")

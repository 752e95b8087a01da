"""report_value: extended statistics on the keys the figures group by (PostgreSQL)

The province's figures group a subtree's values by indicator, value column, form column and
breakdown. ``value_column_key`` is often empty in every row, and PostgreSQL then knows nothing of
its distinct values: it expected a group per value (16,588 for one province's 33,600 values
instead of 200), sorted instead of hashing, and took twice the time. Statistics on the key
columns together give it the real number of groups. Nothing to do on SQLite.

Revision ID: a7f3c2d91b05
Revises: e4b7a1c9d253
Create Date: 2026-12-07 14:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7f3c2d91b05'
down_revision = 'e4b7a1c9d253'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE STATISTICS IF NOT EXISTS report_value_keys (ndistinct) "
                   "ON indicator_id, value_column_key, column_key, breakdown_key "
                   "FROM report_value")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS report_value_keys")

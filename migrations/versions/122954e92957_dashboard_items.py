"""dashboard items: what the dashboard draws, configured by admins

Revision ID: 122954e92957
Revises: 69a6ea1b7769
Create Date: 2026-11-24 01:20:50.134439

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '122954e92957'
down_revision = '69a6ea1b7769'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dashboard_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('regime_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('column_key', sa.String(length=120), nullable=True),
    sa.Column('periods', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], ),
    sa.ForeignKeyConstraint(['regime_id'], ['regime.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    op.drop_table('dashboard_item')

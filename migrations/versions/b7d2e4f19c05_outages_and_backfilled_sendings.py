"""outages and the sendings entered after them

Revision ID: b7d2e4f19c05
Revises: a3f1c8d2e947
Create Date: 2026-12-07 14:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2e4f19c05'
down_revision = 'a3f1c8d2e947'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outage_starts_at'), ['starts_at'], unique=False)
    op.create_table('backfilled_sending',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('outage_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('document_number', sa.String(length=100), nullable=False),
    sa.Column('evidence_filename', sa.String(length=255), nullable=False),
    sa.Column('evidence', sa.LargeBinary(), nullable=False),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entered_by_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['outage_id'], ['outage.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['report_version.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id')
    )
    with op.batch_alter_table('backfilled_sending', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backfilled_sending_report_id'), ['report_id'], unique=False)


def downgrade():
    with op.batch_alter_table('backfilled_sending', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backfilled_sending_report_id'))
    op.drop_table('backfilled_sending')
    with op.batch_alter_table('outage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outage_starts_at'))
    op.drop_table('outage')

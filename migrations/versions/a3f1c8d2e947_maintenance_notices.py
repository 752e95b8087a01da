"""maintenance notices

Revision ID: a3f1c8d2e947
Revises: 9c4d2e7f6a13
Create Date: 2026-12-07 13:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3f1c8d2e947'
down_revision = '9c4d2e7f6a13'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('maintenance_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('maintenance_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_notice_starts_at'), ['starts_at'], unique=False)


def downgrade():
    with op.batch_alter_table('maintenance_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_notice_starts_at'))
    op.drop_table('maintenance_notice')

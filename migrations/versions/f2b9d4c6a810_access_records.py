"""access records: log-ins, exports, downloads, API reads

Revision ID: f2b9d4c6a810
Revises: e7a3c1f90b25
Create Date: 2026-12-07 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f2b9d4c6a810'
down_revision = 'e7a3c1f90b25'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('access_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=256), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('target', sa.String(length=500), nullable=True),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('access_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_record_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_record_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_record_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_record_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('access_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_record_user_id'))
        batch_op.drop_index(batch_op.f('ix_access_record_unit_id'))
        batch_op.drop_index(batch_op.f('ix_access_record_at'))
        batch_op.drop_index(batch_op.f('ix_access_record_action'))
    op.drop_table('access_record')

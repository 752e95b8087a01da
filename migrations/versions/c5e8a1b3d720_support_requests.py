"""support requests and their messages

Revision ID: c5e8a1b3d720
Revises: b7d2e4f19c05
Create Date: 2026-12-07 14:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e8a1b3d720'
down_revision = 'b7d2e4f19c05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('support_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('page_url', sa.String(length=500), nullable=True),
    sa.Column('attachment_filename', sa.String(length=255), nullable=True),
    sa.Column('attachment', sa.LargeBinary(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('first_answer_at', sa.DateTime(), nullable=True),
    sa.Column('expected_completion_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('support_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_request_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_request_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_request_unit_id'), ['unit_id'], unique=False)
    op.create_table('support_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('from_operator', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['support_request.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('support_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_message_request_id'), ['request_id'], unique=False)


def downgrade():
    with op.batch_alter_table('support_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_message_request_id'))
    op.drop_table('support_message')
    with op.batch_alter_table('support_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_request_unit_id'))
        batch_op.drop_index(batch_op.f('ix_support_request_status'))
        batch_op.drop_index(batch_op.f('ix_support_request_created_by_id'))
    op.drop_table('support_request')

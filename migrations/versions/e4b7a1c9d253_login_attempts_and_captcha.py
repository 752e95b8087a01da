"""login attempts (captcha and lockout counted across workers) and captcha challenges

Revision ID: e4b7a1c9d253
Revises: f2b9d4c6a810
Create Date: 2026-12-07 13:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4b7a1c9d253'
down_revision = 'f2b9d4c6a810'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=256), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempt_address_created', ['address', 'created_at'], unique=False)
        batch_op.create_index('ix_login_attempt_username_created', ['username', 'created_at'], unique=False)

    op.create_table('login_captcha',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('answer_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('token')
    )
    with op.batch_alter_table('login_captcha', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_captcha_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_captcha', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_captcha_expires_at'))

    op.drop_table('login_captcha')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempt_username_created')
        batch_op.drop_index('ix_login_attempt_address_created')

    op.drop_table('login_attempt')

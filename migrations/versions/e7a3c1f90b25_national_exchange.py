"""national exchange (QCVN 125:2021/BTTTT): the message outbox and log, figures received

Revision ID: e7a3c1f90b25
Revises: c5e8a1b3d720
Create Date: 2026-12-07 13:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a3c1f90b25'
down_revision = 'c5e8a1b3d720'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('exchange_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('message_type', sa.String(length=30), nullable=False),
    sa.Column('peer', sa.String(length=300), nullable=True),
    sa.Column('unit_code', sa.String(length=40), nullable=True),
    sa.Column('regime_code', sa.String(length=60), nullable=True),
    sa.Column('period_label', sa.String(length=60), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('receipt', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('direction', 'message_id')
    )
    with op.batch_alter_table('exchange_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_message_content_hash'), ['content_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_message_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_message_report_id'), ['report_id'], unique=False)
    op.create_table('exchange_figure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=40), nullable=False),
    sa.Column('regime_code', sa.String(length=60), nullable=False),
    sa.Column('form_code', sa.String(length=60), nullable=False),
    sa.Column('period_frequency', sa.String(length=20), nullable=False),
    sa.Column('period_year', sa.Integer(), nullable=False),
    sa.Column('period_number', sa.Integer(), nullable=False),
    sa.Column('period_label', sa.String(length=60), nullable=False),
    sa.Column('indicator_code', sa.String(length=40), nullable=False),
    sa.Column('column_key', sa.String(length=120), nullable=False),
    sa.Column('breakdown_key', sa.String(length=120), nullable=False),
    sa.Column('value', sa.Numeric(precision=28, scale=8), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['exchange_message.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_code', 'regime_code', 'period_frequency', 'period_year', 'period_number', 'indicator_code', 'column_key', 'breakdown_key')
    )
    with op.batch_alter_table('exchange_figure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_figure_message_id'), ['message_id'], unique=False)


def downgrade():
    with op.batch_alter_table('exchange_figure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_figure_message_id'))
    op.drop_table('exchange_figure')
    with op.batch_alter_table('exchange_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_message_report_id'))
        batch_op.drop_index(batch_op.f('ix_exchange_message_state'))
        batch_op.drop_index(batch_op.f('ix_exchange_message_content_hash'))
    op.drop_table('exchange_message')

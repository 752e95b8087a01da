"""digital signatures: trust anchors, signing certificates, stamp images, report signature
stages (report, attachments); regime.requires_signature; report_version.signature_id

Revision ID: 69a6ea1b7769
Revises: 8d60a0f55812
Create Date: 2026-11-23 23:41:57.380306

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '69a6ea1b7769'
down_revision = '8d60a0f55812'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signing_certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('serial', sa.String(length=80), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('not_after', sa.DateTime(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('confirmed', sa.Boolean(), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=True),
    sa.Column('registered_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['registered_by_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('signing_certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_certificate_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signing_certificate_unit_id'), ['unit_id'], unique=False)

    op.create_table('report_signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('approve_event_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('values_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_pdf', sa.LargeBinary(), nullable=False),
    sa.Column('issued_sha256', sa.String(length=64), nullable=False),
    sa.Column('prepared_pdf', sa.LargeBinary(), nullable=True),
    sa.Column('reserved_start', sa.Integer(), nullable=True),
    sa.Column('reserved_end', sa.Integer(), nullable=True),
    sa.Column('document_digest', sa.LargeBinary(), nullable=True),
    sa.Column('signed_attrs', sa.LargeBinary(), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=True),
    sa.Column('signed_pdf', sa.LargeBinary(), nullable=True),
    sa.Column('signed_sha256', sa.String(length=64), nullable=True),
    sa.Column('signed_at', sa.DateTime(), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('verification', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['approve_event_id'], ['report_event.id'], ),
    sa.ForeignKeyConstraint(['attachment_id'], ['report_attachment.id'], ),
    sa.ForeignKeyConstraint(['certificate_id'], ['signing_certificate.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['signed_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_signature_report_id'), ['report_id'], unique=False)

    op.create_table('stamp_image',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('png', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_id'),
    sa.UniqueConstraint('unit_id')
    )
    op.create_table('trust_anchor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('valid_until', sa.DateTime(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('regime', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requires_signature', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table('report_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_report_version_signature_id', 'report_signature', ['signature_id'], ['id'])



def downgrade():
    with op.batch_alter_table('report_version', schema=None) as batch_op:
        batch_op.drop_constraint('fk_report_version_signature_id', type_='foreignkey')
        batch_op.drop_column('signature_id')

    with op.batch_alter_table('regime', schema=None) as batch_op:
        batch_op.drop_column('requires_signature')

    op.drop_table('trust_anchor')
    op.drop_table('stamp_image')
    with op.batch_alter_table('signing_certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_certificate_unit_id'))
        batch_op.drop_index(batch_op.f('ix_signing_certificate_person_id'))

    op.drop_table('signing_certificate')
    with op.batch_alter_table('report_signature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_signature_report_id'))

    op.drop_table('report_signature')

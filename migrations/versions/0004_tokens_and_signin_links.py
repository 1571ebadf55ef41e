"""api tokens labels and sign-in links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('signinlink',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_signinlink_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signinlink')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_signinlink_token_sha256'))
    )
    with op.batch_alter_table('signinlink', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signinlink_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.drop_column('label')

    with op.batch_alter_table('signinlink', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signinlink_person_id'))

    op.drop_table('signinlink')

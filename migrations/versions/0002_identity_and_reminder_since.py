"""identity guard on check-ins; a reminder's condition start

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_distance', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('identity_confirmed', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.add_column(sa.Column('since', sa.DateTime(timezone=True), nullable=True))
    # Existing reminders: the condition's start was only known from when it was recorded.
    op.execute("UPDATE reminder SET since = opened_at WHERE since IS NULL")
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.alter_column('since', existing_type=sa.DateTime(timezone=True), nullable=False)
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.alter_column('identity_confirmed', existing_type=sa.Boolean(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_column('since')
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.drop_column('identity_confirmed')
        batch_op.drop_column('identity_distance')

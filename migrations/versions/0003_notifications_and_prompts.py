"""notifications outbox and check-in prompts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['reminderevent.id'], name=op.f('fk_notification_event_id_reminderevent'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_notification_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))

    # Nothing ever wrote to the first cut's delivery table (one row per reminder event);
    # a delivery now belongs to a notification.
    op.execute("DELETE FROM delivery")
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notification_id', sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index(batch_op.f('ix_delivery_event_id'))
        batch_op.create_index(batch_op.f('ix_delivery_notification_id'), ['notification_id'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_delivery_event_id_reminderevent'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_delivery_notification_id_notification'), 'notification', ['notification_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_column('event_id')

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompt_hour', sa.Integer(), nullable=False, server_default='9'))
        batch_op.add_column(sa.Column('next_prompt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('notify_resolved', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('calendar_token_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_person_next_prompt_at'), ['next_prompt_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_person_calendar_token_sha256'), ['calendar_token_sha256'])
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('prompt_hour', existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column('notify_resolved', existing_type=sa.Boolean(), server_default=None)



def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_person_calendar_token_sha256'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_person_next_prompt_at'))
        batch_op.drop_column('calendar_token_sha256')
        batch_op.drop_column('notify_resolved')
        batch_op.drop_column('next_prompt_at')
        batch_op.drop_column('prompt_hour')

    op.execute("DELETE FROM delivery")
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_id', sa.INTEGER(), nullable=False))
        batch_op.drop_constraint(batch_op.f('fk_delivery_notification_id_notification'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_delivery_event_id_reminderevent'), 'reminderevent', ['event_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_index(batch_op.f('ix_delivery_notification_id'))
        batch_op.create_index(batch_op.f('ix_delivery_event_id'), ['event_id'], unique=False)
        batch_op.drop_column('lease_until')
        batch_op.drop_column('notification_id')

    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_person_id'))
        batch_op.drop_index(batch_op.f('ix_notification_event_id'))
        batch_op.drop_index(batch_op.f('ix_notification_created_at'))

    op.drop_table('notification')

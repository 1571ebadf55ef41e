"""name keys, one active headshot per image, provenance, audit events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

"""
import unicodedata
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _name_key(name: str) -> str:
    # freshness.names.name_key as of this revision (frozen here: a migration must not change
    # when the application's code does)
    text = unicodedata.normalize("NFKC", name)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = " ".join(text.split())
    return unicodedata.normalize("NFKC", text.casefold())


def upgrade() -> None:
    op.create_table('auditevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auditevent'))
    )
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditevent_at'), ['at'], unique=False)

    with op.batch_alter_table('headshot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column('provenance', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))

    bind = op.get_bind()
    # one active headshot per image per person: the first of any duplicates keeps the key
    seen = set()
    rows = bind.execute(sa.text(
        "SELECT id, person_id, image_digest FROM headshot WHERE retired_at IS NULL ORDER BY id")).all()
    for hid, pid, digest in rows:
        key = f"{pid}:{digest}"
        if key not in seen:
            seen.add(key)
            bind.execute(sa.text("UPDATE headshot SET active_key = :k WHERE id = :i"), {"k": key, "i": hid})
    # names that only differed by case or invisible characters keep working: the later ones
    # get their id in the key (rename them to make them distinct)
    keys = set()
    for pid, name in bind.execute(sa.text("SELECT id, name FROM person ORDER BY id")).all():
        key = _name_key(name)
        if key in keys:
            key = f"{key}#{pid}"
        keys.add(key)
        bind.execute(sa.text("UPDATE person SET name_key = :k WHERE id = :i"), {"k": key, "i": pid})

    with op.batch_alter_table('headshot', schema=None) as batch_op:
        batch_op.alter_column('provenance', existing_type=sa.JSON(), server_default=None)
        batch_op.create_unique_constraint(batch_op.f('uq_headshot_active_key'), ['active_key'])
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sqlmodel.sql.sqltypes.AutoString(length=200),
                              nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_person_name_key'), ['name_key'])


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_person_name_key'), type_='unique')
        batch_op.drop_column('name_key')

    with op.batch_alter_table('headshot', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_headshot_active_key'), type_='unique')
        batch_op.drop_column('provenance')
        batch_op.drop_column('active_key')

    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditevent_at'))

    op.drop_table('auditevent')

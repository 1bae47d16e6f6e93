"""answer corrections belong to a revision

Revision ID: 5b1e7c2a9f40
Revises: d070a2e68305
Create Date: 2026-12-02 06:50:00.000000

A supervisor's correction applies to the revision it was made on: once the inspector amends a
returned visit, the new revision's answers are theirs again. Rows made before this column get
the revision that was current when they were made: the newest submission received by then.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '5b1e7c2a9f40'
down_revision = 'd070a2e68305'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('answer_corrections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE answer_corrections SET revision = COALESCE(("
        "SELECT MAX(s.revision) FROM visit_submissions s "
        "WHERE s.visit_id = answer_corrections.visit_id "
        "AND s.received_at <= answer_corrections.created_at), 1)")
    with op.batch_alter_table('answer_corrections', schema=None) as batch_op:
        batch_op.alter_column('revision', existing_type=sa.Integer(), nullable=False)


def downgrade():
    with op.batch_alter_table('answer_corrections', schema=None) as batch_op:
        batch_op.drop_column('revision')

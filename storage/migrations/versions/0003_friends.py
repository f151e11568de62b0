"""Friends: whom a user follows, for their social prior.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "friends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("friend_id", sa.String(length=128), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_friends_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_friends")),
        sa.UniqueConstraint("user_id", "friend_id", name=op.f("uq_friends_user_id_friend_id")),
    )
    op.create_index(op.f("ix_friends_friend_id"), "friends", ["friend_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_friends_friend_id"), table_name="friends")
    op.drop_table("friends")

"""Profile history: every saved version of a user's posterior, the current ones copied in as their first.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("pack_name", sa.String(length=128), nullable=False),
        sa.Column("pack_version", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mean", sa.JSON(), nullable=False),
        sa.Column("cov", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("n_answers", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_profile_versions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_versions")),
    )
    op.create_index("ix_profile_versions_user_id_pack_name", "profile_versions", ["user_id", "pack_name"])
    op.execute("INSERT INTO profile_versions (user_id, pack_name, pack_version, version, mean, cov, counts, n_answers, "
               "updated_at) SELECT user_id, pack_name, pack_version, version, mean, cov, counts, n_answers, updated_at "
               "FROM profiles")


def downgrade() -> None:
    op.drop_index("ix_profile_versions_user_id_pack_name", table_name="profile_versions")
    op.drop_table("profile_versions")

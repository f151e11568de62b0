"""Initial schema: users, sessions, questions, answers, profiles, summaries, rankings.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def _user_id() -> sa.Column:
    return sa.Column("user_id", sa.String(length=128), nullable=False)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    name = op.f(f"fk_{table}_user_id_users")
    return sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=name, ondelete="CASCADE")


def _pack() -> tuple[sa.Column, sa.Column]:
    return (
        sa.Column("pack_name", sa.String(length=128), nullable=False),
        sa.Column("pack_version", sa.String(length=64), nullable=False),
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        _user_id(),
        *_pack(),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("state IN ('active', 'finished', 'abandoned')", name=op.f("ck_sessions_state")),
        _user_fk("sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"])
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("asked_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_questions_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
        sa.UniqueConstraint("session_id", "position", name=op.f("uq_questions_session_id_position")),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("choice", sa.String(length=256), nullable=True),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("answered_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("undone", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('choice', 'thumbs_up', 'thumbs_down', 'more_like', 'less_like')", name=op.f("ck_answers_kind")
        ),
        sa.CheckConstraint("(kind = 'choice') = (choice IS NOT NULL)", name=op.f("ck_answers_choice_iff_kind_choice")),
        sa.ForeignKeyConstraint(
            ["question_id"], ["questions.id"], name=op.f("fk_answers_question_id_questions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
    )
    op.create_index(op.f("ix_answers_question_id"), "answers", ["question_id"])
    op.create_table(
        "profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        _user_id(),
        *_pack(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mean", sa.JSON(), nullable=False),
        sa.Column("cov", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("n_answers", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        _user_fk("profiles"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profiles")),
        sa.UniqueConstraint(
            "user_id", "pack_name", "pack_version", name=op.f("uq_profiles_user_id_pack_name_pack_version")
        ),
    )
    op.create_index(op.f("ix_profiles_n_answers"), "profiles", ["n_answers"])
    op.create_index(op.f("ix_profiles_updated_at"), "profiles", ["updated_at"])
    op.create_table(
        "summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        _user_id(),
        *_pack(),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("structured", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("superseded_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint("source IN ('generated', 'edited')", name=op.f("ck_summaries_source")),
        _user_fk("summaries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summaries")),
    )
    op.create_index("ix_summaries_user_id_pack_name", "summaries", ["user_id", "pack_name"])
    op.create_table(
        "rankings",
        sa.Column("id", sa.Integer(), nullable=False),
        _user_id(),
        *_pack(),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        _user_fk("rankings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rankings")),
    )
    op.create_index(op.f("ix_rankings_user_id"), "rankings", ["user_id"])


def downgrade() -> None:
    for table in ("rankings", "summaries", "profiles", "answers", "questions", "sessions", "users"):
        op.drop_table(table)  # dropping a table drops its indexes

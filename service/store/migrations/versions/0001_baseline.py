"""The schema of the first release with migrations: every table as it stood then.

On a store made before migrations (by ``create_all``), tables that exist are completed instead of
created: each missing column is added (releases before migrations only ever added nullable columns)
and each missing index made. So the first upgrade adopts an old data folder as it is.

Revision ID: 0001
Revises:
Created: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _table(name: str, *elements: Any) -> None:
    """Create table ``name``, or, where a store from before migrations has it, add what it lacks."""
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(name):
        op.create_table(name, *elements)
        return
    have = {column["name"] for column in sa.inspect(bind).get_columns(name)}
    for element in elements:
        if isinstance(element, sa.Column) and element.name not in have:
            if not element.nullable:
                raise RuntimeError(f"store table {name} lacks the required column {element.name}")
            with op.batch_alter_table(name) as batch:
                batch.add_column(element)


def _index(table: str, name: str, columns: list[str], unique: bool) -> None:
    """Create index ``name`` unless the store has it."""
    if name not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}:
        with op.batch_alter_table(table) as batch:
            batch.create_index(name, columns, unique=unique)


def upgrade() -> None:
    _table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("api_keys", "ix_api_keys_key_sha256", ["key_sha256"], unique=True)

    _table(
        "cameras",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _table(
        "drill_settings",
        sa.Column("station", sa.String(length=120), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("station"),
    )
    _table(
        "motion_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("peak_score", sa.Float(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("snapshot_jpeg", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("motion_events", "ix_motion_events_camera_start", ["camera", "start"], unique=False)
    _index("motion_events", "ix_motion_events_start_id", ["start", "id"], unique=False)

    _table(
        "scans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station", sa.String(length=120), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("image_path", sa.String(length=300), nullable=False),
        sa.Column("low_sha256", sa.String(length=64), nullable=True),
        sa.Column("low_path", sa.String(length=300), nullable=True),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("threshold_source", sa.String(length=16), nullable=True),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("model_name", sa.String(length=120), nullable=False),
        sa.Column("model_version", sa.String(length=120), nullable=False),
        sa.Column("detections", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("heatmap_png", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("scans", "ix_scans_created_id", ["created", "id"], unique=False)
    _index("scans", "ix_scans_verdict", ["verdict"], unique=False)

    _table(
        "station_thresholds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("station", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("model_name", sa.String(length=120), nullable=False),
        sa.Column("model_version", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("target_fa", sa.Float(), nullable=True),
        sa.Column("false_alarm_rate", sa.Float(), nullable=True),
        sa.Column("fa_low", sa.Float(), nullable=True),
        sa.Column("fa_high", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("restores", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station", "kind", "model_name", "model_version", "version"),
    )
    _index("station_thresholds", "ix_station_thresholds_station", ["station", "kind"], unique=False)

    _table(
        "store_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _table(
        "drills",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scan_id", sa.Uuid(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station", sa.String(length=120), nullable=True),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("area_share", sa.Float(), nullable=False),
        sa.Column("outline", sa.JSON(), nullable=False),
        sa.Column("patch_png", sa.LargeBinary(), nullable=True),
        sa.Column("patch_x", sa.Integer(), nullable=False),
        sa.Column("patch_y", sa.Integer(), nullable=False),
        sa.Column("footprint_png", sa.LargeBinary(), nullable=True),
        sa.Column("patch_sha256", sa.String(length=64), nullable=False),
        sa.Column("library_file", sa.String(length=200), nullable=False),
        sa.Column("shown_verdict", sa.String(length=16), nullable=False),
        sa.Column("shown_score", sa.Float(), nullable=False),
        sa.Column("shown_heatmap_png", sa.LargeBinary(), nullable=True),
        sa.Column("shown_detections", sa.JSON(), nullable=False),
        sa.Column("decided", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=True),
        sa.Column("decision_s", sa.Float(), nullable=True),
        sa.Column("operator_key_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("drills", "ix_drills_created", ["created"], unique=False)
    _index("drills", "ix_drills_scan_id", ["scan_id"], unique=True)

    _table(
        "feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scan_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("drill", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("feedback", "ix_feedback_scan_id", ["scan_id"], unique=False)


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("drills")
    op.drop_table("store_probe")
    op.drop_table("station_thresholds")
    op.drop_table("scans")
    op.drop_table("motion_events")
    op.drop_table("drill_settings")
    op.drop_table("cameras")
    op.drop_table("api_keys")

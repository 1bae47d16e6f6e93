"""report summaries: totals, section sums and finding counts per office and half-year

Revision ID: 8e4d2f1a7c30
Revises: 3bc1881299f4
Create Date: 2026-12-04 12:55:00.000000

Kept in step by the review service (server/reports/summaries.py); backfilled here from the
approved visits, one set of grouped INSERT ... SELECT per half-year in ADAL_TIMEZONE (what
`flask --app wsgi adal reports rebuild` also does; `--check` compares).
"""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '8e4d2f1a7c30'
down_revision = '3bc1881299f4'
branch_labels = None
depends_on = None


def _keys():
    return [sa.Column('office_id', sa.Integer(), sa.ForeignKey('offices.id'), nullable=False),
            sa.Column('period', sa.String(length=8), nullable=False),
            sa.Column('form_version_id', sa.Integer(), sa.ForeignKey('form_versions.id'),
                      nullable=False)]


def upgrade():
    op.create_table(
        'report_totals', *_keys(),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.Column('scored', sa.Integer(), nullable=False),
        sa.Column('score_sum', sa.Float(), nullable=False),
        sa.Column('score_squares', sa.Float(), nullable=False),
        sa.Column('findings', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('office_id', 'period', 'form_version_id'))
    op.create_index('ix_report_totals_period', 'report_totals', ['period', 'office_id'])
    op.create_table(
        'report_sections', *_keys(),
        sa.Column('section_id', sa.String(length=64), nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.Column('score_sum', sa.Float(), nullable=False),
        sa.Column('score_squares', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('office_id', 'period', 'form_version_id', 'section_id'))
    op.create_index('ix_report_sections_period', 'report_sections', ['period', 'office_id'])
    op.create_table(
        'report_findings', *_keys(),
        sa.Column('question_id', sa.String(length=64), nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('office_id', 'period', 'form_version_id', 'question_id'))
    op.create_index('ix_report_findings_period', 'report_findings', ['period', 'office_id'])
    _backfill()


def _timezone() -> str:
    try:
        from flask import current_app
        return current_app.config["TIMEZONE"]
    except (ImportError, RuntimeError, KeyError):
        import os
        return os.environ.get("ADAL_TIMEZONE", "Asia/Almaty")


def _aware(value):
    if isinstance(value, str):  # SQLite hands back text for an aggregate
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _backfill():
    bind = op.get_bind()
    zone = ZoneInfo(_timezone())
    first, last = bind.execute(sa.text(
        "SELECT min(started_at), max(started_at) FROM visits WHERE status = 'approved'")).one()
    if first is None:
        return
    first, last = _aware(first).astimezone(zone), _aware(last).astimezone(zone)
    year, half = first.year, 1 if first.month <= 6 else 2
    sqlite = bind.dialect.name == "sqlite"
    while (year, half) <= (last.year, 1 if last.month <= 6 else 2):
        start = datetime(year, 1 if half == 1 else 7, 1, tzinfo=zone).astimezone(timezone.utc)
        end = (datetime(year, 7, 1, tzinfo=zone) if half == 1
               else datetime(year + 1, 1, 1, tzinfo=zone)).astimezone(timezone.utc)
        if sqlite:  # UTCDateTime stores naive UTC text there
            start = start.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            end = end.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        params = {"label": f"{year}H{half}", "start": start, "end": end}
        where = "v.status = 'approved' AND v.started_at >= :start AND v.started_at < :end"
        bind.execute(sa.text(
            "INSERT INTO report_totals (office_id, period, form_version_id, visits, scored, "
            "score_sum, score_squares, findings) "
            "SELECT v.office_id, :label, v.form_version_id, count(*), count(v.score), "
            "coalesce(sum(v.score), 0), coalesce(sum(v.score * v.score), 0), "
            "coalesce(sum((SELECT count(*) FROM visit_findings f WHERE f.visit_id = v.id)), 0) "
            f"FROM visits v WHERE {where} GROUP BY v.office_id, v.form_version_id"), params)
        bind.execute(sa.text(
            "INSERT INTO report_sections (office_id, period, form_version_id, section_id, "
            "visits, score_sum, score_squares) "
            "SELECT v.office_id, :label, v.form_version_id, s.section_id, count(s.score), "
            "sum(s.score), sum(s.score * s.score) "
            "FROM visit_section_scores s JOIN visits v ON v.id = s.visit_id "
            f"WHERE {where} AND s.score IS NOT NULL "
            "GROUP BY v.office_id, v.form_version_id, s.section_id"), params)
        bind.execute(sa.text(
            "INSERT INTO report_findings (office_id, period, form_version_id, question_id, "
            "visits) "
            "SELECT v.office_id, :label, v.form_version_id, f.question_id, count(*) "
            "FROM visit_findings f JOIN visits v ON v.id = f.visit_id "
            f"WHERE {where} GROUP BY v.office_id, v.form_version_id, f.question_id"), params)
        year, half = (year, 2) if half == 1 else (year + 1, 1)


def downgrade():
    for table in ('report_findings', 'report_sections', 'report_totals'):
        op.drop_index(f'ix_{table}_period', table_name=table)
        op.drop_table(table)

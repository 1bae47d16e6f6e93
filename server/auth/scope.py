"""What a user may see: inspectors their own work, supervisors their regions, admins everything."""
from __future__ import annotations

import sqlalchemy as sa

from ..offices.models import Office
from .models import Role, User


def region_ids(user: User) -> set[int] | None:
    """The regions a supervisor works in; None means every region (admins, unrestricted supervisors)."""
    if user.role == Role.SUPERVISOR and user.regions:
        return {r.id for r in user.regions}
    return None


def office_in_scope(user: User, office: Office) -> bool:
    """May this supervisor or admin act on this office?"""
    regions = region_ids(user)
    return regions is None or office.region_id in regions


def scoped(query: sa.Select, user: User, *, inspector_column, office_column) -> sa.Select:
    """Limit a query of per-visit rows: inspectors to their own, supervisors to their regions."""
    if user.role == Role.INSPECTOR:
        return query.where(inspector_column == user.id)
    regions = region_ids(user)
    if regions is not None:
        query = query.where(office_column.in_(
            sa.select(Office.id).where(Office.region_id.in_(regions))))
    return query


def by_office_and_inspector(query: sa.Select, *, office_column, inspector_column,
                            office: str | None, inspector: str | None) -> sa.Select:
    """Narrow a list query to one office (by code) and/or one inspector (by login)."""
    if office is not None:
        query = query.where(office_column.in_(sa.select(Office.id).where(Office.code == office)))
    if inspector is not None:
        query = query.where(inspector_column.in_(
            sa.select(User.id).where(User.login == inspector.strip().lower())))
    return query

"""The staff home screen: which figures the signed-in user may see, computed by analytics."""

from __future__ import annotations

import pandas as pd
from sqlmodel import Session

from hms_app.analytics import home as figures
from hms_app.errors import Forbidden
from hms_app.services.permissions import PORTAL_ROLES, Actor, authorize, require_actor


def home_figures(session: Session, *, actor: Actor) -> list[figures.Figure]:
    """The cards for this actor's home screen; each one only if the role may see it."""
    require_actor(actor)
    if actor.roles and set(actor.roles) <= PORTAL_ROLES:
        raise Forbidden("The staff home screen is not part of the patient portal.")
    return figures.home_figures(session, permissions=actor.permissions, portal_roles=PORTAL_ROLES)


def registrations_by_month(session: Session, *, actor: Actor, months: int = 12) -> pd.DataFrame:
    """Patients registered per month over the last ``months`` months (columns: month, patients)."""
    authorize(actor, "analytics.read")
    return figures.registrations_by_month(session, months=months)


def load_home(session: Session, *, actor: Actor) -> tuple[list[dict], list[dict]]:
    """What the home screen shows: its cards, and the registrations by month for managers."""
    cards = [card.__dict__ for card in home_figures(session, actor=actor)]
    months: list[dict] = []
    if actor.can("analytics.read"):
        months = registrations_by_month(session, actor=actor).to_dict("records")
    return cards, months

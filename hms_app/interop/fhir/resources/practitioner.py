"""Practitioner: the hospital's staff, i.e. the ``app_user`` accounts that are not a portal
patient's and not a FHIR client's service account. Read-only: accounts are managed on the admin
screens, where granting roles is audited and needs ``user.manage``."""

from __future__ import annotations

from sqlalchemy import not_, or_

from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.search import Param, boolean, identifier, string
from hms_app.models.security import AppUser

USER_SYSTEM = "urn:hms:user"
# Accounts that stand for a machine, not a person: SMART clients and the API tests' clients.
SERVICE_ACCOUNT_PREFIXES = ("fhir:", "fhir-test-")


def is_staff():
    """The condition that makes an account a member of staff."""
    return AppUser.patient_id.is_(None) & not_(
        or_(*(AppUser.username.startswith(prefix, autoescape=True) for prefix in SERVICE_ACCOUNT_PREFIXES))
    )


class PractitionerMapper(Mapper):
    resource_type = "Practitioner"
    table = AppUser
    documentation = "Staff members (user accounts); the username is the identifier of system urn:hms:user."
    # Seeing who works here (a colleague's name on a schedule) is what "See schedules and
    # appointments" gives every clinical and front-desk role; patient.read would widen it to roles
    # that never see a schedule, user.manage would narrow it to administrators.
    read_permission = "appointment.read"
    patient_column = None
    in_everything = False
    owned = frozenset({"identifier", "active", "name", "telecom"})
    sorts = {"name": AppUser.display_name}

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": identifier("Practitioner", AppUser.id, {USER_SYSTEM: AppUser.username}),
            "name": string(AppUser.display_name),
            "active": boolean(AppUser.is_active),
        }

    def select(self):
        return super().select().where(is_staff())

    def last_updated(self, row: AppUser):
        return row.created_at

    def to_fhir(self, row: AppUser) -> dict:
        return {
            "identifier": [{"system": USER_SYSTEM, "value": row.username}],
            "active": row.is_active,
            "name": [{"text": row.display_name}],
            "telecom": [{"system": "email", "value": row.email, "use": "work"}] if row.email else None,
        }


MAPPER = PractitionerMapper()

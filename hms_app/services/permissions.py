"""The one permission model: named permissions granted to roles, one check for all.

The catalogue and the default grants live here; the live grants live in the
``role_permission`` table, which administrators edit on the role matrix page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hms_app.errors import Forbidden, NotSignedIn

PERMISSIONS: dict[str, str] = {
    "patient.read": "Look up patients and read their records",
    "patient.write": "Register patients and edit demographics",
    "patient.merge": "Merge duplicate patient records and undo merges",
    "emr.write": "Record encounters, notes, vitals, problems and allergies",
    "appointment.read": "See schedules and appointments",
    "appointment.book": "Book, move and cancel appointments",
    "appointment.flow": "Check patients in, call them and move them through the visit",
    "schedule.manage": "Set up bookable resources, services, availability and closures",
    "ward.manage": "Admit, transfer and discharge inpatients and manage beds",
    "lab.work": "Work the laboratory worklist and enter results",
    "radiology.work": "Work imaging orders and write reports",
    "pharmacy.dispense": "Dispense medication",
    "billing.read": "See charges, invoices and payments",
    "billing.post": "Post charges, payments, expenses and claims; issue invoices",
    "billing.void": "Void invoices and refund payments",
    "analytics.read": "Open the management dashboards",
    "population.read": "See registries, quality measures, care gaps and cohorts of patients",
    "population.manage": "Edit registry code sets, save cohorts and send outreach",
    "audit.read": "Read the audit trail",
    "user.manage": "Create, disable and reset user accounts and grant roles",
    "role.manage": "Edit the role-permission matrix and the MFA policy",
    "portal.self": "Use the patient portal for one's own record",
}

ROLES: dict[str, str] = {
    "admin": "Administrator",
    "physician": "Physician",
    "nurse": "Nurse",
    "receptionist": "Receptionist",
    "lab_technician": "Lab technician",
    "radiologist": "Radiologist",
    "pharmacist": "Pharmacist",
    "billing_clerk": "Billing clerk",
    "manager": "Manager",
    "patient": "Patient",
}

DEFAULT_GRANTS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"user.manage", "role.manage", "audit.read", "analytics.read", "schedule.manage", "appointment.read"}
    ),
    "physician": frozenset(
        {
            "patient.read",
            "patient.write",
            "emr.write",
            "appointment.read",
            "appointment.flow",
            "population.read",
        }
    ),
    "nurse": frozenset({"patient.read", "emr.write", "appointment.read", "appointment.flow", "ward.manage"}),
    "receptionist": frozenset(
        {
            "patient.read",
            "patient.write",
            "patient.merge",
            "appointment.read",
            "appointment.book",
            "appointment.flow",
            "schedule.manage",
        }
    ),
    "lab_technician": frozenset({"patient.read", "lab.work"}),
    "radiologist": frozenset({"patient.read", "radiology.work"}),
    "pharmacist": frozenset({"patient.read", "pharmacy.dispense"}),
    "billing_clerk": frozenset({"patient.read", "billing.read", "billing.post"}),
    "manager": frozenset(
        {
            "analytics.read",
            "billing.read",
            "billing.void",
            "appointment.read",
            "population.read",
            "population.manage",
        }
    ),
    "patient": frozenset({"portal.self"}),
}

# Permissions an administrator can never take away from the admin role: without them
# nobody could ever give anything back.
LOCKED_GRANTS: dict[str, frozenset[str]] = {"admin": frozenset({"user.manage", "role.manage"})}

# Roles given to people signing in to the portal; a staff role never mixes with them.
PORTAL_ROLES = frozenset({"patient"})


@dataclass(frozen=True)
class Actor:
    """Who is acting, built on the server from the signed-in session."""

    user_id: int
    username: str
    display_name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    permissions: frozenset[str] = field(default_factory=frozenset)
    patient_id: int | None = None  # set for portal users: they may only touch this patient
    session_id: int | None = None
    screen: str | None = None  # where the action came from, for the audit trail

    def can(self, permission: str) -> bool:
        return permission in self.permissions


# Who acts when the operator runs the command line or the seeders: not a person who
# signs in, but every action is still written to the audit trail under this name.
SYSTEM_ACTOR = Actor(
    user_id=0,
    username="system",
    display_name="System (command line)",
    roles=frozenset({"system"}),
    permissions=frozenset(PERMISSIONS) - {"portal.self"},
)


def authorize(actor: Actor | None, permission: str, *, patient_id: int | None = None) -> Actor:
    """Raise unless ``actor`` holds ``permission`` (and, for portal users, owns ``patient_id``)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    if actor is None:
        raise NotSignedIn("Please sign in to continue.")
    if permission not in actor.permissions:
        raise Forbidden(f"Your role does not allow this ({PERMISSIONS[permission].lower()}).")
    if actor.patient_id is not None and patient_id is not None and patient_id != actor.patient_id:
        raise Forbidden("You can only see your own record.")
    return actor

"""Users, roles, permissions, sessions and the hash-chained audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class Role(SQLModel, table=True):
    __tablename__ = "role"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True, index=True)
    label: str = Field(max_length=80)
    mfa_required: bool = Field(default=False)


class RolePermission(SQLModel, table=True):
    __tablename__ = "role_permission"
    __table_args__ = (UniqueConstraint("role_id", "permission", name="uq_role_permission"),)

    id: int | None = Field(default=None, primary_key=True)
    role_id: int = Field(foreign_key="role.id", index=True, ondelete="CASCADE")
    permission: str = Field(max_length=60)


class AppUser(SQLModel, table=True):
    """A person who signs in: staff (Practitioner) or a portal patient."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=60, unique=True, index=True)
    display_name: str = Field(max_length=120)
    email: str | None = Field(default=None, max_length=200)
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    failed_attempts: int = Field(default=0)  # wrong passwords (sign-in and password change)
    locked_until: datetime | None = Field(default=None)
    # Wrong second-factor codes, counted apart: a right password never resets them, a right code does.
    mfa_failed_attempts: int = Field(default=0)
    # Fernet ciphertext of the TOTP secret (hms_app/secret_box.py); the key is not in the database.
    mfa_secret: str | None = Field(default=None, max_length=255)
    mfa_enabled: bool = Field(default=False)
    mfa_last_step: int | None = Field(default=None)  # last TOTP time step used: no replays
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    created_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime = Field(default_factory=utcnow)
    last_sign_in_at: datetime | None = Field(default=None)
    # Set on the demo administrator: until a new password is chosen, the account may do nothing else.
    must_change_password: bool = Field(default=False)


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role_id", name="uq_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    role_id: int = Field(foreign_key="role.id", index=True, ondelete="CASCADE")


class UserSession(SQLModel, table=True):
    """A server-side sign-in session; the browser holds only a random token for it."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    last_seen_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = Field(default=None)
    # "active" sessions act; "mfa" and "enrol" ones wait for the second factor and act on nothing.
    stage: str = Field(default="active", max_length=10)
    # Wrong codes sent to this pending sign-in; it dies at security.MFA_CODES_PER_SIGN_IN.
    failed_codes: int = Field(default=0)
    client_ip: str | None = Field(default=None, max_length=64)


class AuditEvent(SQLModel, table=True):
    """One append-only audit row. Writers insert it with no place in the chain; the sequencer
    (services/audit_chain) then sets ``seq``, ``prev_hash`` and its keyed seal ``hash``.

    Holds no foreign keys on purpose: the record of who touched a patient must outlive
    merges and deletions of what it points at.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_patient_time", "patient_id", "occurred_at"),
        Index("ix_audit_event_user_time", "user_id", "occurred_at"),
        # The sequencer's queue: only the rows still waiting for a place, so it stays tiny.
        Index(
            "ix_audit_event_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    seq: int | None = Field(default=None, unique=True)
    occurred_at: datetime = Field(default_factory=utcnow, index=True)
    user_id: int | None = Field(default=None)
    username: str = Field(max_length=60)
    roles: str = Field(default="", max_length=300)
    action: str = Field(max_length=80, index=True)
    patient_id: int | None = Field(default=None)
    target_type: str | None = Field(default=None, max_length=60)
    target_id: str | None = Field(default=None, max_length=80)
    outcome: str = Field(default="success", max_length=20)
    screen: str | None = Field(default=None, max_length=120)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's tip: one row, locked only by the sequencer while it seals a round."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0)
    hash: str = Field(max_length=64)


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins to a username that has no account, counted and locked like a real account's,
    so that "locked" never tells a real username from an invented one."""

    __tablename__ = "sign_in_throttle"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=60, unique=True)
    failed_attempts: int = Field(default=0)
    locked_until: datetime | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class SignupRequest(SQLModel, table=True):
    """A portal sign-up waiting for its owner to follow the link mailed to ``email``: the account is
    created only then. Holds the form as checked (the password only as its hash) and the hash of the
    link's one-time token, never the token."""

    __tablename__ = "signup_request"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=200)
    username: str = Field(max_length=60)
    form: str = Field(sa_column=Column(Text, nullable=False))  # JSON: demographics + password_hash
    client: str = Field(default="", max_length=200)  # "ip=... browser=..." of the request
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    used_at: datetime | None = Field(default=None)

"""Who may use the FHIR API from outside: registered system clients, their bearer tokens, and the
assertions they already spent.

A client authenticates with a JWT signed by a key it registered (SMART Backend Services); HMS
answers with a short-lived opaque bearer token. Only the token's SHA-256 is stored, so a copy of
the database gives nobody a working token. Each client acts as an account of its own (its service
user, named ``fhir:<name>``), whose roles decide which HMS permissions its tokens carry; that
account can never sign in on the screens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class FhirClient(SQLModel, table=True):
    """A registered system client (SMART Backend Services)."""

    __tablename__ = "fhir_client"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True, index=True)  # the OAuth client_id (iss and sub)
    description: str = Field(default="", max_length=300)
    service_user_id: int = Field(foreign_key="app_user.id", unique=True)
    jwks: str = Field(default='{"keys": []}', sa_column=Column(Text, nullable=False))  # public keys only
    allowed_scopes: str = Field(default="", max_length=2000)  # space-separated SMART scopes
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    revoked_at: datetime | None = Field(default=None)  # when it was last disabled; None while enabled
    last_token_at: datetime | None = Field(default=None)  # kept here: expired tokens are purged


class FhirAccessToken(SQLModel, table=True):
    """A bearer token handed to a client: only its hash is kept."""

    __tablename__ = "fhir_access_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    client_id: int = Field(foreign_key="fhir_client.id", index=True, ondelete="CASCADE")
    scopes: str = Field(max_length=2000)  # the granted scopes, space-separated
    # Set for a patient-facing token: it reaches only this patient's compartment.
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    revoked_at: datetime | None = Field(default=None)


class FhirUsedAssertion(SQLModel, table=True):
    """A client assertion already exchanged for a token, kept until it expires: a replay is refused."""

    __tablename__ = "fhir_used_assertion"
    __table_args__ = (UniqueConstraint("client_id", "jti", name="uq_fhir_used_assertion"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="fhir_client.id", index=True, ondelete="CASCADE")
    jti: str = Field(max_length=255)
    expires_at: datetime = Field(index=True)

"""Departments of the hospital: where staff work and where activity is counted."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Department(SQLModel, table=True):
    __tablename__ = "department"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=120)
    kind: str = Field(default="clinical", max_length=20)  # clinical | diagnostic | support
    active: bool = Field(default=True)


class Counter(SQLModel, table=True):
    """Named gap-free counters (MRNs, invoice numbers): advanced by one conditional UPDATE."""

    __tablename__ = "counter"

    name: str = Field(primary_key=True, max_length=40)
    value: int = Field(default=0)

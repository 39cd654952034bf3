"""The whole schema: every module's tables, as the registry lists them, for Alembic and the app."""

from sqlmodel import SQLModel

from hms_app import modules

modules.load("models")

metadata = SQLModel.metadata

__all__ = ["metadata"]

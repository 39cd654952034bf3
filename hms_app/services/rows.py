"""Rows in and out of services: loading one row by its id (or telling the person it does not
exist), and handing rows to callers as frozen copies.

A service's caller (a screen's state, the API, the command line) gets what the service decided,
never a live table row: a row could be changed and flushed by whoever holds a session next, and
lazy loads would reach the database from outside the service layer. ``returns_frozen`` turns a
service's rows into frozen dataclasses with the same field names (``AppointmentView`` for an
``Appointment``), so callers read ``appointment.reference`` as before and cannot write it.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlmodel import Session, SQLModel

from hms_app.errors import NotFound

Row = TypeVar("Row")
P = ParamSpec("P")
R = TypeVar("R")

VIEW_SUFFIX = "View"


def get_row(session: Session, model: type[Row], row_id, message: str, *, lock: bool = False) -> Row:
    """The ``model`` row with this id; NotFound with ``message`` when there is none.

    ``lock`` holds the row until the transaction ends (SELECT ... FOR UPDATE).
    """
    row = session.get(model, row_id, with_for_update=True) if lock else session.get(model, row_id)
    if row is None:
        raise NotFound(message)
    return row


def _is_table_row(value) -> bool:
    return isinstance(value, SQLModel) and getattr(type(value), "__table__", None) is not None


@functools.cache
def view_class(model: type) -> type:
    """The frozen dataclass standing for rows of ``model``: one field per column."""
    names = [attribute.key for attribute in sa_inspect(model).column_attrs]
    cls = dataclasses.make_dataclass(
        f"{model.__name__}{VIEW_SUFFIX}",
        [(name, Any) for name in names],
        frozen=True,
    )
    cls.__module__ = __name__
    cls.__doc__ = f"A frozen copy of one {model.__name__} row, as a service hands it out."
    setattr(sys.modules[__name__], cls.__name__, cls)  # found by pickle (Redis keeps tab states)
    return cls


def _model_viewed_as(view_name: str) -> type | None:
    """The table class whose frozen copies are called ``view_name``, if any."""
    if view_name.endswith(VIEW_SUFFIX):
        wanted = view_name[: -len(VIEW_SUFFIX)]
        for mapper in SQLModel._sa_registry.mappers:
            if mapper.class_.__name__ == wanted:
                return mapper.class_
    return None


def __getattr__(name: str):
    """A view class by name, made on first use: a worker unpickling a tab's state may not have
    made it yet."""
    model = _model_viewed_as(name)
    if model is None:
        raise AttributeError(name)
    return view_class(model)


def model_of(value) -> type:
    """The table class behind a row or its frozen copy."""
    if _is_table_row(value):
        return type(value)
    model = _model_viewed_as(type(value).__name__)
    if model is None:
        raise TypeError(f"{type(value).__name__} is neither a table row nor a frozen copy of one")
    return model


def reload(session: Session, value):
    """The row as the database holds it now, for a row or a frozen copy a service handed out."""
    return session.get(model_of(value), value.id, populate_existing=True)


def frozen(value):
    """``value`` with every table row in it (alone, or in a list or tuple) as a frozen copy."""
    if _is_table_row(value):
        cls = view_class(type(value))
        return cls(**{field.name: getattr(value, field.name) for field in dataclasses.fields(cls)})
    if isinstance(value, list):
        return [frozen(item) for item in value]
    if isinstance(value, tuple):
        return tuple(frozen(item) for item in value)
    return value


def returns_frozen(service: Callable[P, R]) -> Callable[P, R]:
    """Mark a service whose rows leave the service layer: its callers get frozen copies."""

    @functools.wraps(service)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return frozen(service(*args, **kwargs))

    wrapper.returns_frozen = True  # type: ignore[attr-defined]
    return wrapper

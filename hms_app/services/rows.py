"""Loading one row by its id, or telling the person it does not exist."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session

from hms_app.errors import NotFound

Row = TypeVar("Row")


def get_row(session: Session, model: type[Row], row_id, message: str, *, lock: bool = False) -> Row:
    """The ``model`` row with this id; NotFound with ``message`` when there is none.

    ``lock`` holds the row until the transaction ends (SELECT ... FOR UPDATE).
    """
    row = session.get(model, row_id, with_for_update=True) if lock else session.get(model, row_id)
    if row is None:
        raise NotFound(message)
    return row

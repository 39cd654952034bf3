"""The chart's dialogs: each tab that writes through one holds its own open dialog and refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import reflex as rx

from hms_app.errors import DomainError, ValidationError


class ChartDialogs(rx.State, mixin=True):
    """Mixed into a tab's state (before ``ChartState``): the dialog open on that tab.

    The handlers that open an add dialog and close any dialog are ``ChartState``'s (one each for the
    page); they find the tab's state. A mixin's guarded handlers would be copies whose guard runs
    the mixin's body, out of reach of tests/state/test_handler_guards.py.
    """

    ADD_DIALOGS: ClassVar[tuple[str, ...]] = ()  # the dialogs that add something (the others open from a row)

    dialog: str = ""
    dialog_subject: str = ""  # what the dialog acts on, in words
    error_field: str = ""
    error_text: str = ""
    saving: bool = False

    _target_id: int = 0  # the row the open dialog acts on, picked from the rows on screen

    def _open_dialog(self, name: str, subject: str = "") -> None:
        self.dialog, self.dialog_subject = name, subject
        self.error_field, self.error_text, self.saving, self._target_id = "", "", False, 0

    def _fail(self, error: DomainError, fields: tuple[str, ...]) -> None:
        """Show a refusal next to its field when the dialog has it, else above the dialog's buttons."""
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in fields else ""

    async def _submit(
        self, fields: tuple[str, ...], read: Callable[[], dict], write: Callable, said: Callable[[Any], str]
    ):
        """Run a dialog's form: ``read`` the service's arguments from it, ``write`` them (the button
        spins meanwhile), then close the dialog with what ``said`` makes of the result. A refusal
        shows next to its field when the dialog has it (``fields``), else above the buttons."""
        try:
            arguments = read()
        except ValidationError as error:
            self._fail(error, fields)
            return
        self.saving = True
        yield
        try:
            result = await self._run(write, **arguments)
        except DomainError as error:
            self._fail(error, fields)
            return
        yield await self._done(said(result))

    async def _done(self, message: str, toast_id: str | None = None):
        """Close the dialog, re-read what the change shows and say what happened."""
        self.dialog, self._target_id, self.saving = "", 0, False
        return await super()._done(message, toast_id)

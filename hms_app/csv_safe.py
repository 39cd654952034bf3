"""CSV that a spreadsheet opens as text, never as a formula.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets: a patient named ``=HYPERLINK(...)`` would
become a link that sends the sheet's data away the moment a manager opens the export. Such
cells get a leading apostrophe (OWASP's advice), which the spreadsheet shows as plain text.
Numbers, and text that is only a number or an amount (``-12.50``, ``-$1,200.00``), stay as
they are, so sums still work.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_AMOUNT = re.compile(r"[-+]?[$€£]?\d[\d,]*(\.\d+)?%?")


def neutralise(value: Any) -> Any:
    """The cell as it can be written safely: text that a spreadsheet would run gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _AMOUNT.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`neutralise`."""

    def __init__(self, out: io.TextIOBase | io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])


def writer(out: io.StringIO) -> SafeWriter:
    return SafeWriter(out)


def frame_to_csv(frame: pd.DataFrame) -> str:
    """A table as CSV text, its text cells neutralised (numbers are left to be numbers)."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise)
    return safe.to_csv(index=False)

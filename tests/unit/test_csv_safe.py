"""CSV injection: what a spreadsheet would run as a formula is written as text."""

import csv
import io

import pandas as pd
import pytest

from hms_app import csv_safe


@pytest.mark.parametrize(
    "cell",
    [
        "=1+1",
        "+1+1",
        "-1+1",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        '=HYPERLINK("http://x","y")',
        "-",
        "=",
        "+cmd|' /C calc'!A0",
    ],
)
def test_formula_starts_get_an_apostrophe(cell):
    assert csv_safe.neutralise(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell", ["-12", "-12.50", "+3", "-$1,200.00", "-4%", "Medline", "", "a=b", "O'Brien"]
)
def test_numbers_amounts_and_ordinary_text_are_left_alone(cell):
    assert csv_safe.neutralise(cell) == cell


@pytest.mark.parametrize("value", [-5, 3.5, None, 0])
def test_values_that_are_not_text_are_left_alone(value):
    assert csv_safe.neutralise(value) == value


def test_the_writer_neutralises_every_cell_and_reads_back():
    out = io.StringIO()
    writer = csv_safe.writer(out)
    writer.writerow(["name", "note"])
    writer.writerow(["=evil()", "fine, with a comma"])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["name", "note"],
        ["'=evil()", "fine, with a comma"],
    ]


def test_frames_keep_numeric_columns_as_numbers():
    frame = pd.DataFrame({"who": ["@x", "ok"], "cents": [-100, 200]})
    rows = list(csv.DictReader(io.StringIO(csv_safe.frame_to_csv(frame))))
    assert rows == [{"who": "'@x", "cents": "-100"}, {"who": "ok", "cents": "200"}]

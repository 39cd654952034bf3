"""`hms meds check` and `hms meds update` as an operator uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hms_app import cli
from hms_app.cds.medications import knowledge, reload_knowledge
from hms_app.cds.medications.knowledge import BUNDLED_DIR, INTERACTION_COLUMNS
from hms_app.cds.medications.tables import read_table
from hms_app.settings import get_settings

BUNDLED = (BUNDLED_DIR / "interactions.csv").read_text(encoding="utf-8")
BUNDLED_VERSION = read_table(BUNDLED_DIR / "interactions.csv", INTERACTION_COLUMNS).version


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh data directory, so installed tables go there; the knowledge base reloads around the test."""
    monkeypatch.setenv("HMS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    reload_knowledge()
    yield tmp_path
    monkeypatch.delenv("HMS_DATA_DIR")
    get_settings.cache_clear()
    reload_knowledge()


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_check_prints_one_json_object_per_alert(data_dir, capsys):
    assert cli.main(["meds", "check", "Warfarin", "ibuprofen", "tramadol", "SERTRALINE"]) == 0
    captured = capsys.readouterr()
    alerts = _lines(captured.out)
    assert all(set(alert) == {"kind", "drugs", "severity", "interrupt", "message"} for alert in alerts)
    first = alerts[0]
    assert first["kind"] == "interaction" and first["interrupt"] is True
    assert first["drugs"] == ["ibuprofen", "warfarin"] and first["severity"] == "major"
    assert {tuple(alert["drugs"]) for alert in alerts} >= {
        ("sertraline", "tramadol"),
        ("ibuprofen", "sertraline"),
    }
    assert captured.err == ""


def test_check_accepts_a_brand_name_and_says_which_ingredient_it_checked(data_dir, capsys):
    assert cli.main(["meds", "check", "Coumadin", "Advil"]) == 0
    captured = capsys.readouterr()
    assert _lines(captured.out)[0]["drugs"] == ["ibuprofen", "warfarin"]
    assert "Coumadin: checked as warfarin" in captured.err


def test_check_of_drugs_that_do_not_interact_prints_nothing(data_dir, capsys):
    assert cli.main(["meds", "check", "amoxicillin", "acetaminophen"]) == 0
    assert capsys.readouterr().out == ""


def test_an_unknown_name_exits_2_with_a_message_and_prints_no_alert(data_dir, capsys):
    assert cli.main(["meds", "check", "warfarin", "ibuprofen", "wonderpill"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Unknown drug 'wonderpill'" in captured.err and "generic ingredient name" in captured.err


def _newer(text: str = BUNDLED, version: str = "2099.1") -> str:
    return text.replace(f"# version: {BUNDLED_VERSION}", f"# version: {version}", 1)


def test_update_installs_a_newer_table_that_the_knowledge_base_then_prefers(data_dir, tmp_path, capsys):
    extra = "\nddi:test+new,metformin,cimetidine,moderate,no,hms,Cimetidine inhibits OCT2,Cimetidine raises metformin levels.,Watch glucose.\n"
    table = tmp_path / "new.csv"
    table.write_text(_newer().rstrip("\n") + extra, encoding="utf-8")
    assert cli.main(["meds", "update", str(table)]) == 0
    out = capsys.readouterr().out
    assert "installed interactions version 2099.1" in out and "interrupting" in out
    installed = data_dir / "medications" / "interactions.csv"
    assert installed.read_text(encoding="utf-8") == table.read_text(encoding="utf-8")
    assert knowledge().version == "2099.1" and knowledge().source == str(installed)
    assert cli.main(["meds", "check", "metformin", "cimetidine"]) == 0
    assert _lines(capsys.readouterr().out)[0]["message"].endswith("Cimetidine raises metformin levels.")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda text: text.replace(",warfarin,@nsaid,", ",warfarin,@nsaids,", 1), "unknown group '@nsaids'"),
        (
            lambda text: text.replace(",warfarin,aspirin,major,", ",warfarin,asprin,major,", 1),
            "unknown ingredient 'asprin'",
        ),
        (
            lambda text: text.replace(",warfarin,aspirin,major,", ",warfarin,aspirin,severe,", 1),
            "severity 'severe'",
        ),
        (
            lambda text: text.replace('"ddi:onc-hp:tca+maoi"', "x").replace(
                "ddi:onc-hp:tca+maoi,", "ddi:x,", 1
            ),
            "ONC high-priority rules are missing",
        ),
    ],
)
def test_update_refuses_a_bad_table_with_its_line_and_changes_nothing(
    data_dir, tmp_path, capsys, change, problem
):
    text = change(_newer())
    assert text != _newer()
    table = tmp_path / "bad.csv"
    table.write_text(text, encoding="utf-8")
    assert cli.main(["meds", "update", str(table)]) == 2
    err = capsys.readouterr().err
    assert problem in err and "nothing changed" in err and "line " in err
    assert not (data_dir / "medications" / "interactions.csv").exists()
    assert knowledge().version == BUNDLED_VERSION and knowledge().source == "bundled"


def test_update_names_the_line_of_the_bad_row(data_dir, tmp_path, capsys):
    lines = _newer().splitlines()
    bad_line = next(n for n, line in enumerate(lines, 1) if line.startswith("ddi:warfarin+aspirin,"))
    lines[bad_line - 1] = lines[bad_line - 1].replace(",major,", ",grave,")
    table = tmp_path / "bad.csv"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli.main(["meds", "update", str(table)]) == 2
    assert f"line {bad_line}:" in capsys.readouterr().err


def test_update_refuses_an_older_or_equal_version(data_dir, tmp_path, capsys):
    table = tmp_path / "same.csv"
    table.write_text(BUNDLED, encoding="utf-8")
    assert cli.main(["meds", "update", str(table)]) == 2
    assert f"not newer than the version in use ({BUNDLED_VERSION})" in capsys.readouterr().err
    assert cli.main(["meds", "update", str(Path(tmp_path) / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err

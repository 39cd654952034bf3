"""No file under hms_app/ passes 800 lines: a domain that grows becomes a package of one module
per screen or concern long before that (../shared/design.md)."""

from __future__ import annotations

from pathlib import Path

import hms_app

MAX_LINES = 800
ROOT = Path(hms_app.__file__).parent


def test_no_file_under_hms_app_passes_800_lines():
    too_long = {
        str(path.relative_to(ROOT)): count
        for path in ROOT.rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"split these along their screens or concerns: {too_long}"


def test_the_check_sees_the_files_it_must():
    files = {str(path.relative_to(ROOT)) for path in ROOT.rglob("*.py")}
    assert {"modules.py", "hms_app.py", "services/permissions.py"} <= files

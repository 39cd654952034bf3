"""The `hms` operator command line, run in-process against the test database."""

from __future__ import annotations

import sys
from datetime import date

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, text

from hms_app import cli
from hms_app import db as hms_db
from hms_app.errors import DomainError
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services import security
from tests.conftest import _truncate

PASSWORD = "Ward-round-42"
NEW_PASSWORD = "Night-shift-77"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(autouse=True)
def progress_to_this_tests_stderr(monkeypatch):
    # ConsoleProgress binds sys.stderr as a default argument when its module is first
    # imported; under pytest that is whichever capture was active then, closed since.
    from hms_app.seed import registry

    monkeypatch.setattr(registry.ConsoleProgress.__init__, "__defaults__", (sys.stderr, False))


def hms(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _user(username: str) -> AppUser | None:
    with hms_db.session_scope() as s:
        return s.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()


def _roles(username: str) -> set[str]:
    with hms_db.session_scope() as s:
        user_id = s.execute(select(AppUser.id).where(AppUser.username == username)).scalar_one()
        return set(cli._roles_of(s, user_id))


def _sign_in(username: str, password: str) -> str:
    with hms_db.session_scope() as s:
        return security.sign_in(s, username=username, password=password).stage


def _audit_actions() -> list[tuple[str, str]]:
    with hms_db.session_scope() as s:
        return [
            tuple(r)
            for r in s.execute(select(AuditEvent.action, AuditEvent.username).order_by(AuditEvent.id))
        ]


@pytest.fixture
def nina(configured_db, capsys):
    code, out, _ = hms(
        capsys, "users", "create", "Nina", "--name", "Nina Nurse", "--role", "nurse", "--password", PASSWORD
    )
    assert code == 0 and "created nina (nurse)" in out
    return "nina"


def test_users_create_and_list(nina, capsys):
    code, out, _ = hms(
        capsys,
        "users",
        "create",
        "dr.grey",
        "--name",
        "Meredith Grey",
        "--role",
        "physician",
        "--role",
        "nurse",
        "--email",
        "grey@example.org",
        "--password",
        PASSWORD,
    )
    assert code == 0
    assert _roles("dr.grey") == {"physician", "nurse"}
    assert ("user.create", "system") in _audit_actions()  # the command line acts, and is audited, as "system"
    code, out, _ = hms(capsys, "users", "list")
    lines = out.strip().splitlines()
    assert code == 0 and lines[-1] == "2 users"
    assert lines[0].split()[0] == "dr.grey" and lines[1].split()[0] == "nina"
    code, out, _ = hms(capsys, "users", "list", "grey")
    assert out.strip().splitlines()[-1] == "1 user"


def test_users_create_reads_the_password_from_standard_input(configured_db, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, _, _ = hms(capsys, "users", "create", "piped", "--name", "Piped User", "--role", "manager")
    assert code == 0 and _sign_in("piped", PASSWORD) == "active"


def test_disable_and_enable(nina, capsys):
    code, out, _ = hms(capsys, "users", "disable", "nina")
    assert code == 0 and not _user("nina").is_active
    assert "disabled" in hms(capsys, "users", "list")[1]
    # a disabled account answers a right password as a wrong one (nothing confirms the password);
    # the audit trail says why
    with pytest.raises(DomainError, match="Wrong username or password."):
        _sign_in("nina", PASSWORD)
    with hms_db.session_scope() as s:
        details = s.execute(select(AuditEvent.detail).where(AuditEvent.username == "nina")).scalars().all()
    assert any("disabled" in (detail or "") for detail in details)
    assert hms(capsys, "users", "enable", "NINA")[0] == 0
    assert _user("nina").is_active and _sign_in("nina", PASSWORD) == "active"


def test_reset_password(nina, capsys):
    code, _, _ = hms(capsys, "users", "reset-password", "nina", "--password", NEW_PASSWORD)
    assert code == 0
    assert _sign_in("nina", NEW_PASSWORD) == "active"
    with pytest.raises(DomainError):
        _sign_in("nina", PASSWORD)
    assert ("user.reset_password", "system") in _audit_actions()


def test_grant_and_revoke_a_role(nina, capsys):
    assert hms(capsys, "users", "grant", "nina", "receptionist")[0] == 0
    assert _roles("nina") == {"nurse", "receptionist"}
    assert hms(capsys, "users", "revoke", "nina", "nurse")[0] == 0
    assert _roles("nina") == {"receptionist"}
    code, _, err = hms(capsys, "users", "revoke", "nina", "receptionist")
    assert code == 2 and "at least one role" in err  # an account is never left without a role
    assert _roles("nina") == {"receptionist"}


def test_unlock(nina, capsys):
    for _ in range(5):
        with pytest.raises(DomainError):
            _sign_in("nina", "Wrong-password-1")
    assert "locked" in hms(capsys, "users", "list")[1]
    with pytest.raises(DomainError, match="locked"):
        _sign_in("nina", PASSWORD)
    assert hms(capsys, "users", "unlock", "nina")[0] == 0
    assert _sign_in("nina", PASSWORD) == "active"


def test_a_rule_broken_on_the_command_line_is_a_plain_message_and_exit_code_2(configured_db, capsys):
    code, out, err = hms(
        capsys, "users", "create", "weak", "--name", "Weak Password", "--role", "nurse", "--password", "short"
    )
    assert code == 2
    assert err == "error: The password must be at least 10 characters long.\n"
    assert "Traceback" not in out + err
    assert _user("weak") is None
    code, _, err = hms(capsys, "users", "disable", "nobody")
    assert code == 2 and err == "error: There is no user called 'nobody'.\n"
    code, _, err = hms(
        capsys, "users", "create", "x.y", "--name", "X", "--role", "wizard", "--password", PASSWORD
    )
    assert code == 2 and "Unknown role: wizard" in err


def test_audit_verify_passes_an_intact_trail_and_fails_a_tampered_one(nina, capsys, configured_db):
    hms(capsys, "users", "disable", "nina")
    code, out, _ = hms(capsys, "audit", "verify")
    assert code == 0 and out.startswith("OK: audit chain intact")
    with hms_db.get_engine(configured_db).begin() as conn:
        conn.execute(text("UPDATE audit_event SET username = 'someone-else' WHERE seq = 1"))
    code, out, _ = hms(capsys, "audit", "verify")
    assert code == 1 and out.startswith("TAMPERED: row 1 was altered")


def test_stock_verify_passes_a_ledger_that_agrees_and_fails_a_balance_changed_behind_its_back(
    session, capsys, configured_db
):
    from hms_app.services.inventory.ledger import receive_stock
    from tests.services.inventory_world import build_world

    world = build_world(session)
    receive_stock(
        session, actor=world.storekeeper, item_id=world.gloves, location_id=world.central, quantity=40
    )
    code, out, _ = hms(capsys, "stock", "verify")
    assert code == 0 and out.startswith("OK: every stock balance equals")
    with hms_db.get_engine(configured_db).begin() as conn:
        conn.execute(text("UPDATE stock_balance SET quantity = 35"))
    code, out, _ = hms(capsys, "stock", "verify")
    assert code == 1 and "ledger 40, balance 35" in out and "MISMATCH: 1 balances differ" in out


def _snapshot() -> dict[str, list[tuple]]:
    with hms_db.session_scope() as s:
        patients = [tuple(row) for row in s.execute(select(Patient.__table__).order_by(Patient.id))]
        users = [
            tuple(row)
            for row in s.execute(
                select(AppUser.username, AppUser.display_name, AppUser.email, AppUser.patient_id).order_by(
                    AppUser.id
                )
            )
        ]
        departments = [
            tuple(row) for row in s.execute(select(Department.code, Department.name).order_by(Department.id))
        ]
    return {"patients": patients, "users": users, "departments": departments}


def test_seeding_is_deterministic(configured_db, capsys):
    code, out, _ = hms(
        capsys, "seed", "--patients", "50", "--seed", "1", "--as-of", "2026-01-15", "--stock-days", "30"
    )
    assert code == 0 and "seeded 50 patients with seed 1" in out
    first = _snapshot()
    assert len(first["patients"]) >= 50  # later seeders may add near-duplicate registrations
    created = Patient.__table__.columns.keys().index("created_at")
    assert all(row[created].date() <= date(2026, 1, 15) for row in first["patients"])
    with hms_db.session_scope() as s:
        assert s.execute(select(AppUser.id).where(AppUser.username == "patient")).scalar_one()

    _truncate(configured_db)  # a fresh database
    assert (
        hms(capsys, "seed", "--patients", "50", "--seed", "1", "--as-of", "2026-01-15", "--stock-days", "30")[
            0
        ]
        == 0
    )
    assert _snapshot() == first

    _truncate(configured_db)
    assert (
        hms(capsys, "seed", "--patients", "50", "--seed", "2", "--as-of", "2026-01-15", "--stock-days", "30")[
            0
        ]
        == 0
    )
    assert _snapshot()["patients"] != first["patients"]  # the seed, not luck, decides the data


def test_seed_if_empty_leaves_a_seeded_database_alone(configured_db, capsys):
    assert (
        hms(capsys, "seed", "--patients", "5", "--seed", "1", "--as-of", "2026-01-15", "--stock-days", "30")[
            0
        ]
        == 0
    )
    code, out, _ = hms(capsys, "seed", "--patients", "5", "--seed", "1", "--if-empty", "--stock-days", "30")
    assert code == 0 and "not seeding" in out
    with hms_db.session_scope() as s:
        assert len(s.execute(select(Patient.id)).all()) == 5


@pytest.mark.parametrize("days", ["29", "3651", "a year"])
def test_a_stock_history_too_short_or_too_long_is_refused_before_anything_is_seeded(
    configured_db, capsys, days
):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["seed", "--patients", "5", "--stock-days", days])
    assert exit_.value.code == 2
    assert "--stock-days" in capsys.readouterr().err
    with hms_db.session_scope() as s:
        assert s.execute(select(Patient.id)).first() is None


def test_the_stock_history_reaches_back_the_days_asked_for(configured_db, capsys):
    from hms_app.models.inventory import StockMove

    assert hms(capsys, "seed", "--patients", "20", "--as-of", "2026-01-15", "--stock-days", "45")[0] == 0
    with hms_db.session_scope() as s:
        first = s.execute(select(func.min(StockMove.moved_at))).scalar_one()
    assert date(2025, 12, 1) <= first.date() <= date(2025, 12, 3)  # 2026-01-15 minus 44 days, local time

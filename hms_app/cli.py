"""`hms`: the operator's command line (migrate, seed, users, audit, backup, serve, bench, lab listen,
dicom import and listen, meds)."""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
from datetime import date
from pathlib import Path

from hms_app import modules
from hms_app.errors import DomainError
from hms_app.plurals import counted
from hms_app.services import accounts


def _session():
    from hms_app.db import session_scope

    return session_scope()


def _user_id(session, username: str) -> int:
    from sqlalchemy import select

    from hms_app.models.security import AppUser

    user_id = session.execute(
        select(AppUser.id).where(AppUser.username == username.strip().lower())
    ).scalar_one_or_none()
    if user_id is None:
        raise DomainError(f"There is no user called {username!r}.")
    return user_id


def _password(args, prompt: str) -> str:
    if getattr(args, "password", None):
        return args.password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise DomainError("The two passwords differ.")
    return first


# --------------------------------------------------------------------------- commands


def cmd_migrate(_args) -> int:
    from hms_app import migrations

    migrations.upgrade()
    print(f"database at revision {migrations.current_revision()}")
    return 0


def cmd_seed(args) -> int:
    import time

    from hms_app.seed.demo import is_seeded, write_demo_logins
    from hms_app.seed.registry import ConsoleProgress, run_seeders
    from hms_app.settings import get_settings

    with _session() as session:
        if args.if_empty and is_seeded(session):
            print("database already holds data; not seeding")
            return 0
        started = time.perf_counter()
        run_seeders(
            session,
            patients=args.patients,
            seed=args.seed,
            as_of=args.as_of,
            progress=ConsoleProgress(),
            stock_days=args.stock_days,
        )
        elapsed = time.perf_counter() - started
    rate = args.patients / elapsed if elapsed else 0
    print(
        f"seeded {args.patients:,} patients with seed {args.seed} in {elapsed:.1f} s ({rate:,.0f} patients/s)"
    )
    print(f"demo logins: in {write_demo_logins(get_settings().data_dir)} (readable by this user only)")
    return 0


def cmd_users(args) -> int:
    from hms_app.services.permissions import SYSTEM_ACTOR as actor

    with _session() as session:
        accounts.ensure_roles(session)
        if args.users_cmd == "list":
            rows, total = accounts.list_users(session, actor=actor, query=args.query or "", page_size=100)
            for row in rows:
                flags = [
                    f
                    for f, on in (
                        ("disabled", not row.is_active),
                        ("locked", row.locked),
                        ("mfa", row.mfa_enabled),
                    )
                    if on
                ]
                print(
                    f"{row.username:<20} {row.display_name:<28} {','.join(row.roles):<28} {' '.join(flags)}"
                )
            print(counted(total, "user"))
            return 0
        if args.users_cmd == "create":
            password = _password(args, "Password: ")
            accounts.create_user(
                session,
                actor=actor,
                username=args.username,
                display_name=args.name,
                password=password,
                roles=args.role,
                email=args.email,
            )
            print(f"created {args.username.lower()} ({', '.join(args.role)})")
            return 0
        user_id = _user_id(session, args.username)
        if args.users_cmd in ("disable", "enable"):
            accounts.set_user_active(session, actor=actor, user_id=user_id, active=args.users_cmd == "enable")
        elif args.users_cmd == "reset-password":
            accounts.reset_password(
                session, actor=actor, user_id=user_id, new_password=_password(args, "New password: ")
            )
        elif args.users_cmd == "unlock":
            accounts.unlock_user(session, actor=actor, user_id=user_id)
        elif args.users_cmd == "reset-mfa":
            accounts.reset_mfa(session, actor=actor, user_id=user_id)
        elif args.users_cmd in ("grant", "revoke"):
            current = {r for r in _roles_of(session, user_id)}
            wanted = current | {args.role} if args.users_cmd == "grant" else current - {args.role}
            accounts.set_user_roles(session, actor=actor, user_id=user_id, roles=sorted(wanted))
        print(f"{args.users_cmd}: {args.username.lower()} done")
        return 0


def _roles_of(session, user_id: int) -> list[str]:
    from sqlalchemy import select

    from hms_app.models.security import Role, UserRole

    return list(
        session.execute(
            select(Role.name).join(UserRole, UserRole.role_id == Role.id).where(UserRole.user_id == user_id)
        ).scalars()
    )


def cmd_audit(args) -> int:
    from hms_app.services.audit_chain import seal_all, verify_chain

    with _session() as session:
        seal_all(session)
        report = verify_chain(session)
    print(("OK: " if report.ok else "TAMPERED: ") + report.message)
    return 0 if report.ok else 1


def cmd_jobs(_args) -> int:
    from hms_app.jobs import run_due_jobs

    done = run_due_jobs()
    print(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in done.items()))
    return 0


def cmd_population(_args) -> int:
    from hms_app.services.permissions import SYSTEM_ACTOR
    from hms_app.services.population import refresh_population

    with _session() as session:
        info = refresh_population(session, actor=SYSTEM_ACTOR)
    print(
        f"population summary: {info.patients:,} patients, {info.members:,} registry members in {info.seconds:.1f} s"
    )
    return 0


def cmd_stock(_args) -> int:
    from hms_app.services.inventory.balances import balance_mismatches, negative_balances

    with _session() as session:
        mismatches = balance_mismatches(session)
        negative = negative_balances(session)
    for m in mismatches:
        print(f"store {m.location_id} lot {m.lot_id}: ledger {m.ledger:,}, balance {m.balance:,}")
    if mismatches or negative:
        print(f"MISMATCH: {len(mismatches)} balances differ from the ledger, {negative} below zero")
        return 1
    print("OK: every stock balance equals the sum of its ledger moves, none below zero")
    return 0


def cmd_lab(args) -> int:
    import logging

    from hms_app.interop import hl7_listener

    logging.basicConfig(level=logging.INFO, format=hl7_listener.LOG_FORMAT, stream=sys.stdout)
    hl7_listener.run_listener(args.host, args.port, workers=args.workers)
    return 0


def cmd_dicom(args) -> int:
    import logging

    from hms_app.services.radiology import dicom_net

    if args.dicom_cmd == "listen":
        logging.basicConfig(level=logging.INFO, format=dicom_net.LOG_FORMAT, stream=sys.stdout)
        dicom_net.run_listener(args.host, args.port, ae_title=args.ae_title)
        return 0
    return _dicom_import(args.paths)


def _dicom_files(paths: list[str]):
    """Each file named, and the files under each folder named (in name order; DICOMDIR indexes
    and hidden files skipped)."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_file() and found.name != "DICOMDIR" and not found.name.startswith("."):
                    yield found
        else:
            yield path


def _dicom_import(paths: list[str]) -> int:
    import json

    from hms_app.services.permissions import SYSTEM_ACTOR
    from hms_app.services.radiology.storage import store_dicom_file

    refused = 0
    with _session() as session:
        for path in _dicom_files(paths):
            result = store_dicom_file(session, actor=SYSTEM_ACTOR, path=path)
            refused += result.status == "refused"
            print(json.dumps(result.as_json(), ensure_ascii=False), flush=True)
    return 1 if refused else 0


def cmd_backup(args) -> int:
    from hms_app.services.backup import backup_database

    summary = backup_database(Path(args.file))
    print(f"backup written to {args.file}: {summary}")
    return 0


def cmd_restore(args) -> int:
    from hms_app.services.backup import restore_database

    if not args.yes:
        if not sys.stdin.isatty():
            print(
                f"Restoring replaces every row in the database with {args.file}, and there is no terminal "
                "to confirm it on. Pass --yes to restore without asking.",
                file=sys.stderr,
            )
            return 2
        answer = input(
            f"Restoring replaces EVERY row in the database with {args.file}. Type 'restore' to go on: "
        )
        if answer.strip() != "restore":
            print("nothing changed")
            return 1
    summary = restore_database(Path(args.file))
    print(f"restored from {args.file}: {summary}")
    return 0


def cmd_serve(args) -> int:
    """Migrate, seed a demo hospital on first start only when asked (``--demo``), then serve the
    production build. No password is ever printed: demo logins go to data/demo-logins.txt."""
    from hms_app import migrations
    from hms_app.seed.demo import DEMO_LOGINS_FILE, is_seeded, write_demo_logins
    from hms_app.seed.registry import ConsoleProgress, run_seeders
    from hms_app.settings import PROJECT_ROOT, get_settings

    settings = get_settings()
    migrations.upgrade()
    with _session() as session:
        seeded = is_seeded(session)
        if not seeded and args.demo:
            print(f"First start: seeding a demo hospital with {args.demo_patients:,} patients ...")
            run_seeders(
                session,
                patients=args.demo_patients,
                seed=42,
                progress=ConsoleProgress(),
                stock_days=args.stock_days,
            )
            write_demo_logins(settings.data_dir)
            seeded = True
    port = args.port or settings.port
    logins = settings.data_dir / DEMO_LOGINS_FILE
    print("\n" + "=" * 64)
    print(f"  HMS is starting at http://localhost:{port}")
    print(
        f"  Database: {'SQLite ' + settings.database_url.removeprefix('sqlite:///') if settings.is_sqlite else 'PostgreSQL'}"
        f"{'  ·  Redis state manager' if settings.redis_url else ''}"
    )
    if args.demo and logins.exists():
        print(f"  Demo logins: in {logins} (readable by this user only).")
        print("  The demo admin chooses a new password at the first sign-in.")
    elif not seeded:
        print("  The database has no users yet. Create the first administrator with")
        print("    hms users create <name> --name '<Full Name>' --role admin")
        print("  or start a demo hospital with `hms serve --demo` (what `make run` does).")
    print("=" * 64 + "\n", flush=True)
    env = {**os.environ, "HMS_PORT": str(port), "REFLEX_USE_GRANIAN": "1"}
    # `.venv/bin/hms serve` run without `make run`'s PATH: reflex is next to this interpreter and
    # the front-end build wants the bun that `make setup` put under .tools.
    tools = [str(Path(sys.executable).parent)]
    bun = PROJECT_ROOT / ".tools" / "bun" / "node_modules" / ".bin"
    if (bun / "bun").exists():
        tools.append(str(bun))
        env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    env["PATH"] = os.pathsep.join([*tools, env.get("PATH", "")])
    command = [
        shutil.which("reflex", path=env["PATH"]) or "reflex",
        "run",
        "--env",
        "prod",
        "--single-port",
        "--frontend-port",
        str(port),
        "--backend-port",
        str(port),
        "--loglevel",
        args.loglevel,
    ]
    os.chdir(PROJECT_ROOT)
    os.execvpe(command[0], command, env)


def cmd_bench(args) -> int:
    from hms_app.settings import PROJECT_ROOT

    # bench/ lives in the checkout beside the package, not in the installed package.
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    from bench.run import main as bench_main

    return bench_main(args.only)


def cmd_meds(args) -> int:
    if args.meds_cmd == "check":
        return _meds_check(args)
    return _meds_update(args)


def _meds_check(args) -> int:
    import json

    from hms_app.cds.medications import DrugUse, UnknownDrug, check_drugs, knowledge

    kb = knowledge()
    uses = []
    for name in args.drugs:
        try:
            ingredient = kb.resolve(name)
        except UnknownDrug as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if " ".join(name.split()).lower() != ingredient.name:
            print(f"{name}: checked as {ingredient.name}", file=sys.stderr)
        uses.append(DrugUse(ingredient.name))
    patient = None
    if args.patient is not None:
        from hms_app.services.pharmacy.checks import patient_context

        with _session() as session:
            patient = patient_context(session, args.patient)
    for alert in check_drugs(uses, patient):
        line = {
            "kind": alert.kind,
            "drugs": list(alert.drugs),
            "severity": alert.severity,
            "interrupt": alert.interrupt,
            "message": alert.message,
        }
        print(json.dumps(line, ensure_ascii=False))
    return 0


def _meds_update(args) -> int:
    from hms_app.cds.medications.knowledge import knowledge, override_dir, reload_knowledge
    from hms_app.cds.medications.tables import TableError
    from hms_app.cds.medications.update import install_interactions

    try:
        installed = install_interactions(Path(args.file), override_dir(), current_version=knowledge().version)
    except TableError as error:
        print(f"error: {error}; nothing changed", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot read {args.file}: {error.strerror}; nothing changed", file=sys.stderr)
        return 2
    kb = reload_knowledge()
    print(
        f"installed interactions version {kb.version} at {installed.path}: "
        f"{counted(installed.rules, 'rule')} ({installed.interrupting:,} interrupting), "
        f"{counted(len(kb.pairs), 'ingredient pair')}"
    )
    return 0


# --------------------------------------------------------------------------- parser


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError("use a date like 2026-01-31") from error


def _positive(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _days(value: str) -> int:
    # The history must reach past the wards' admissions (10 days) and the monthly expiry write-off.
    number = int(value)
    if not 30 <= number <= 3650:
        raise argparse.ArgumentTypeError("must be between 30 and 3650")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hms", description="HMS operator commands")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(fn=cmd_migrate)

    seed = sub.add_parser("seed", help="add deterministic demo data")
    seed.add_argument("--patients", type=_positive, default=2000)
    seed.add_argument("--seed", type=int, default=42)
    seed.add_argument(
        "--as-of", type=_date, default=None, help="the day the data is generated for (default today)"
    )
    seed.add_argument("--if-empty", action="store_true", help="do nothing if the database already has users")
    seed.add_argument("--stock-days", type=_days, default=365, help="days of stock history (default a year)")
    seed.set_defaults(fn=cmd_seed)

    users = sub.add_parser("users", help="manage sign-in accounts")
    users_sub = users.add_subparsers(dest="users_cmd", required=True)
    listing = users_sub.add_parser("list")
    listing.add_argument("query", nargs="?")
    create = users_sub.add_parser("create")
    create.add_argument("username")
    create.add_argument("--name", required=True)
    create.add_argument("--role", action="append", required=True, help="repeat for several roles")
    create.add_argument("--email")
    create.add_argument("--password", help="otherwise asked for (or read from standard input)")
    for name in ("disable", "enable", "unlock", "reset-mfa"):
        users_sub.add_parser(name).add_argument("username")
    reset = users_sub.add_parser("reset-password")
    reset.add_argument("username")
    reset.add_argument("--password")
    for name in ("grant", "revoke"):
        p = users_sub.add_parser(name)
        p.add_argument("username")
        p.add_argument("role")
    users.set_defaults(fn=cmd_users)

    audit = sub.add_parser("audit", help="audit trail")
    audit_sub = audit.add_subparsers(dest="audit_cmd", required=True)
    audit_sub.add_parser("verify", help="recompute the hash chain; exit 1 if it was tampered with")
    audit.set_defaults(fn=cmd_audit)

    jobs = sub.add_parser(
        "jobs",
        help="run the periodic work now: expire waitlist offers, send due reminders, escalate critical results",
    )
    jobs.set_defaults(fn=cmd_jobs)

    population = sub.add_parser("population", help="population health")
    population.add_subparsers(dest="population_cmd", required=True).add_parser(
        "refresh",
        help="recompute registries, latest results and the measures' inputs from the clinical record",
    )
    population.set_defaults(fn=cmd_population)

    stock = sub.add_parser("stock", help="inventory")
    stock.add_subparsers(dest="stock_cmd", required=True).add_parser(
        "verify", help="check that every stock balance equals its ledger; exit 1 if not"
    )
    stock.set_defaults(fn=cmd_stock)

    lab = sub.add_parser("lab", help="laboratory")
    listen = lab.add_subparsers(dest="lab_cmd", required=True).add_parser(
        "listen", help="receive analysers' HL7 v2 ORU^R01 results over MLLP and answer each with an ACK"
    )
    listen.add_argument("--port", type=int, default=2575, help="default 2575, the HL7 port")
    listen.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1; 0.0.0.0 for every address")
    listen.add_argument(
        "--workers",
        type=int,
        default=1,
        help="listener processes sharing the port (PostgreSQL only; default 1)",
    )
    lab.set_defaults(fn=cmd_lab)

    dicom = sub.add_parser("dicom", help="radiology images: import DICOM files, receive them from modalities")
    dicom_sub = dicom.add_subparsers(dest="dicom_cmd", required=True)
    dicom_import = dicom_sub.add_parser(
        "import", help="store DICOM files (or the files under folders); one JSON line per file"
    )
    dicom_import.add_argument("paths", nargs="+", metavar="PATH")
    dicom_listen = dicom_sub.add_parser(
        "listen", help="receive images from modalities (DICOM C-STORE, C-ECHO)"
    )
    dicom_listen.add_argument("--port", type=int, default=11112, help="default 11112, the DICOM port")
    dicom_listen.add_argument(
        "--host", default="127.0.0.1", help="default 127.0.0.1; 0.0.0.0 for every address"
    )
    dicom_listen.add_argument("--ae-title", default="HMS", help="this listener's AE title (default HMS)")
    dicom.set_defaults(fn=cmd_dicom)

    meds = sub.add_parser(
        "meds", help="medication knowledge: check drugs offline, install a newer interactions table"
    )
    meds_sub = meds.add_subparsers(dest="meds_cmd", required=True)
    meds_check = meds_sub.add_parser(
        "check", help="print one JSON line per alert for these drugs (generic ingredient names)"
    )
    meds_check.add_argument("drugs", nargs="+", metavar="DRUG")
    meds_check.add_argument("--patient", type=int, help="also check against this patient's chart")
    meds_update = meds_sub.add_parser("update", help="validate and install a newer interactions table (CSV)")
    meds_update.add_argument("file")
    meds.set_defaults(fn=cmd_meds)

    backup = sub.add_parser("backup", help="write a consistent copy of the database while it runs")
    backup.add_argument("file")
    backup.set_defaults(fn=cmd_backup)
    restore = sub.add_parser("restore", help="replace the database's contents with a backup")
    restore.add_argument("file")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.set_defaults(fn=cmd_restore)

    serve = sub.add_parser("serve", help="migrate and serve the app (--demo: a demo hospital on first start)")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed a demo hospital on first start; its logins go to data/demo-logins.txt",
    )
    serve.add_argument("--demo-patients", type=_positive, default=3000)
    serve.add_argument(
        "--stock-days", type=_days, default=365, help="days of the demo's stock history (default a year)"
    )
    serve.add_argument("--no-seed", action="store_true", help="the default now; accepted for old scripts")
    serve.add_argument("--loglevel", default="warning")
    serve.set_defaults(fn=cmd_serve)

    bench = sub.add_parser("bench", help="print the benchmark figures (BENCH name value unit)")
    bench.add_argument("--only", action="append", help="run only this benchmark (repeatable)")
    bench.set_defaults(fn=cmd_bench)
    # Each domain's own commands, declared in the module registry.
    for command_module in modules.load("commands"):
        command_module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args) or 0
    except DomainError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``hms fhir``: bearer tokens for FHIR clients (for operators and tests) and the list of clients."""

from __future__ import annotations

import sys

from hms_app.clock import utcnow
from hms_app.plurals import counted


def cmd_fhir(args) -> int:
    from hms_app.db import session_scope
    from hms_app.services import accounts, fhir_clients
    from hms_app.services.permissions import SYSTEM_ACTOR

    with session_scope() as session:
        accounts.ensure_roles(session)  # the integration role a new client is registered with
        if args.fhir_cmd == "token":
            grant = fhir_clients.issue_token_for_operator(
                session, client_name=args.client, scope=" ".join(args.scope), patient_mrn=args.patient
            )
            # The token alone on stdout, so that TOKEN=$(hms fhir token ...) works.
            print(grant.access_token)
            print(
                f"expires {grant.expires_at.isoformat(timespec='seconds')} (in {grant.expires_in} s); "
                f"scopes: {grant.scope}",
                file=sys.stderr,
            )
            return 0
        rows = fhir_clients.list_clients(session, actor=SYSTEM_ACTOR)
        now = utcnow()
        for row in rows:
            state = "enabled" if row.enabled else "disabled"
            last = row.last_token_at.isoformat(timespec="minutes") if row.last_token_at else "never"
            print(
                f"{row.name:<24} {row.role:<14} {state:<8} keys={row.keys} live={row.live_tokens} "
                f"last-token={last} scopes={row.allowed_scopes}"
            )
        print(f"{counted(len(rows), 'FHIR client')} ({now:%Y-%m-%d %H:%M} UTC)")
        return 0


def register(subparsers) -> None:
    fhir = subparsers.add_parser("fhir", help="FHIR API access: client tokens and the list of clients")
    fhir_sub = fhir.add_subparsers(dest="fhir_cmd", required=True)
    token = fhir_sub.add_parser(
        "token", help="print a short-lived bearer token for a client (registered first if new)"
    )
    token.add_argument("--client", required=True, help="the client's name (its OAuth client_id)")
    token.add_argument(
        "--scope",
        required=True,
        nargs="+",
        help='SMART scopes, e.g. "system/Patient.read system/Observation.rs"',
    )
    token.add_argument("--patient", metavar="MRN", help="bind the token to one patient (patient/ scopes)")
    fhir_sub.add_parser("clients", help="list the registered FHIR clients")
    fhir.set_defaults(fn=cmd_fhir)

"""The FHIR clients screen (/admin/fhir-clients): the registered system clients and the dialog open."""

from __future__ import annotations

from dataclasses import dataclass, field

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.plurals import counted
from hms_app.services import fhir_clients
from hms_app.services.permissions import ROLES
from hms_app.state.forms import form_text
from hms_app.state.session import SessionState, browser_id, requires

MANAGE = "fhir.client.manage"
# Inputs longer than these are refused before any service runs (the columns' sizes).
LIMITS = {"name": 55, "description": 300, "scopes": 2000, "jwks": 50_000}
LABELS = {"name": "client name", "description": "description", "scopes": "allowed scopes", "jwks": "keys"}
FIELDS = ("name", "description", "role", "scope", "jwks")
CLIENT_ROLES: dict[str, str] = fhir_clients.client_roles()


def _text(form: dict, key: str) -> str:
    return form_text(form, key, limit=LIMITS[key], label=LABELS[key])


@dataclass
class ClientLine:
    id: int = 0
    name: str = ""
    description: str = ""
    role: str = ""
    role_label: str = ""
    scopes: list[str] = field(default_factory=list)
    allowed_scopes: str = ""
    enabled: bool = True
    key_count: int = 0
    live_tokens: int = 0
    last_token: str = ""  # "" : never


def _line(row: fhir_clients.ClientRow) -> ClientLine:
    return ClientLine(
        row.id,
        row.name,
        row.description,
        row.role,
        ROLES.get(row.role, row.role),
        row.allowed_scopes.split(),
        row.allowed_scopes,
        row.enabled,
        row.keys,
        row.live_tokens,
        format_local(row.last_token_at, "%Y-%m-%d %H:%M"),
    )


class FhirClientsState(SessionState):
    """Every registered FHIR client (a hospital has a handful, so one list) and the open dialog."""

    rows: list[ClientLine] = []
    loading: bool = False
    loaded: bool = False

    dialog: str = ""  # "" | create | edit | disable | revoke
    dialog_name: str = ""
    dialog_description: str = ""
    dialog_scopes: str = ""
    dialog_keys: int = 0
    form_role: str = fhir_clients.clients.DEFAULT_ROLE
    error_text: str = ""
    field_errors: dict[str, str] = {}
    saving: bool = False

    # The client the open dialog acts on: only a row this screen was shown can be picked.
    _target_id: int = 0

    async def _reload(self):
        self.loading = True
        try:
            rows = await self._run(fhir_clients.list_clients)
        except DomainError as error:
            self.loading = False
            return rx.toast.error(str(error))
        self.rows = [_line(r) for r in rows]
        self.loading, self.loaded = False, True
        return None

    @rx.event
    @requires(MANAGE)
    async def load(self):
        self._open("")
        return await self._reload()

    def _pick(self, client_id) -> ClientLine:
        wanted = browser_id(client_id, "client")
        for line in self.rows:
            if line.id == wanted:
                return line
        raise ValidationError("That client is no longer on this screen. Reload and try again.")

    def _open(self, dialog: str, line: ClientLine | None = None) -> None:
        self.dialog, self.error_text, self.field_errors, self.saving = dialog, "", {}, False
        self._target_id = line.id if line else 0
        self.dialog_name = line.name if line else ""
        self.dialog_description = line.description if line else ""
        self.dialog_scopes = line.allowed_scopes if line else ""
        self.dialog_keys = line.key_count if line else 0
        self.form_role = (
            line.role if line and line.role in CLIENT_ROLES else fhir_clients.clients.DEFAULT_ROLE
        )

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        shown = field_messages(error, FIELDS)
        self.error_text = shown.pop("", "")
        self.field_errors = shown

    async def _done(self, message: str):
        self._open("")
        problem = await self._reload()
        return [rx.toast.success(message), problem] if problem else rx.toast.success(message)

    @rx.event
    @requires(MANAGE)
    async def on_dialog_change(self, is_open: bool):
        if not is_open:  # Escape, the overlay or a close button
            self._open("")

    @rx.event
    @requires(MANAGE)
    async def set_form_role(self, role: str):
        if role not in CLIENT_ROLES:
            return rx.toast.error("Choose a role from the list.")
        self.form_role = role
        return None

    @rx.event
    @requires(MANAGE)
    async def open_create(self):
        self._open("create")

    @rx.event
    @requires(MANAGE)
    async def submit_create(self, form: dict):
        try:
            name, description = _text(form, "name"), _text(form, "description")
            scopes, jwks = _text(form, "scopes"), _text(form, "jwks")
        except ValidationError as error:
            self._fail(error)
            return
        self.saving = True
        yield
        try:
            await self._run(
                fhir_clients.register_client,
                name=name,
                description=description,
                role=self.form_role,
                allowed_scopes=scopes,
                jwks=jwks,
            )
        except DomainError as error:
            self._fail(error)
            return
        yield await self._done(f"FHIR client {name.strip()} registered.")

    @rx.event
    @requires(MANAGE)
    async def open_edit(self, client_id: int):
        try:
            line = self._pick(client_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open("edit", line)
        return None

    @rx.event
    @requires(MANAGE)
    async def submit_edit(self, form: dict):
        if not self._target_id:
            self._open("")
            return
        try:
            description, scopes, jwks = _text(form, "description"), _text(form, "scopes"), _text(form, "jwks")
        except ValidationError as error:
            self._fail(error)
            return
        self.saving = True
        yield
        try:
            await self._run(
                fhir_clients.update_client,
                client_id=self._target_id,
                description=description,
                role=self.form_role,
                allowed_scopes=scopes,
                jwks=jwks if jwks.strip() else None,  # empty: keep the registered keys
            )
        except DomainError as error:
            self._fail(error)
            return
        yield await self._done(f"FHIR client {self.dialog_name} saved.")

    @rx.event
    @requires(MANAGE)
    async def enable(self, client_id: int):
        try:
            line = self._pick(client_id)
            await self._run(fhir_clients.set_client_enabled, client_id=line.id, enabled=True)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(f"FHIR client {line.name} enabled.")

    @rx.event
    @requires(MANAGE)
    async def ask_confirm(self, action: str, client_id: int):
        """Disabling a client and revoking its tokens are asked about first."""
        if action not in ("disable", "revoke"):
            return rx.toast.error("Choose an action from the menu.")
        try:
            line = self._pick(client_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open(action, line)
        return None

    @rx.event
    @requires(MANAGE)
    async def confirm(self):
        action, name = self.dialog, self.dialog_name
        if action not in ("disable", "revoke") or not self._target_id:
            self._open("")
            return
        self.saving = True
        yield
        try:
            if action == "disable":
                await self._run(fhir_clients.set_client_enabled, client_id=self._target_id, enabled=False)
                message = f"{name} is disabled; its tokens stopped working."
            else:
                ended = await self._run(fhir_clients.revoke_client_tokens, client_id=self._target_id)
                message = f"{counted(ended, 'live token')} of {name} revoked."
        except DomainError as error:
            self._fail(error)
            return
        yield await self._done(message)

"""The administrator's screens: user accounts (/admin/users) and the role matrix (/admin/roles)."""

from __future__ import annotations

from dataclasses import dataclass, field

import reflex as rx

from hms_app import words
from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.services import accounts
from hms_app.services.permissions import LOCKED_GRANTS, PERMISSIONS, PORTAL_ROLES, ROLES
from hms_app.state.forms import form_text
from hms_app.state.session import SessionState, browser_id, pages_for, requires, turn_page

PAGE_SIZE = 25
ALL_ROLES = "all"  # the role filter's "no filter" value (a Radix select item cannot be "")

# What the new-user dialog offers: portal accounts belong to a patient record and are
# not made from here, so the patient role is left out rather than refused after typing.
STAFF_ROLES: tuple[str, ...] = tuple(r for r in ROLES if r not in PORTAL_ROLES)

# Inputs longer than these are refused before any service runs (the columns' sizes).
LIMITS = {"username": 60, "display_name": 120, "email": 200, "password": 256, "query": 100}
LABELS = {
    "username": "username",
    "display_name": "full name",
    "email": "email address",
    "password": "password",
}


def _text(form: dict, key: str) -> str:
    return form_text(form, key, limit=LIMITS[key], label=LABELS[key])


@dataclass
class UserLine:
    id: int = 0
    username: str = ""
    display_name: str = ""
    roles: list[str] = field(default_factory=list)
    role_labels: list[str] = field(default_factory=list)  # the roles as people name them
    status: str = "active"  # active | disabled | locked
    mfa_enabled: bool = False
    last_sign_in_day: str = ""  # day and time apart, so a narrow column breaks between them
    last_sign_in_time: str = ""


def _line(row: accounts.UserRow) -> UserLine:
    status = "disabled" if not row.is_active else "locked" if row.locked else "active"
    return UserLine(
        row.id,
        row.username,
        row.display_name,
        list(row.roles),
        [ROLES.get(role, words.humanise(role)) for role in row.roles],
        status,
        row.mfa_enabled,
        format_local(row.last_sign_in_at, "%Y-%m-%d"),
        format_local(row.last_sign_in_at, "%H:%M"),
    )


class AdminUsersState(SessionState):
    """One page of user accounts, the filters above it and the dialog that is open."""

    query: str = ""
    role_filter: str = ALL_ROLES
    page: int = 1
    total: int = 0
    rows: list[UserLine] = []
    loading: bool = False
    loaded: bool = False

    dialog: str = ""  # "" | create | roles | password | disable | reset_mfa
    dialog_username: str = ""
    form_roles: list[str] = []
    error_field: str = ""  # kept "" : a message that belongs to no field shows above the buttons
    error_text: str = ""
    field_errors: dict[str, str] = {}  # every field's message at once, shown under each field
    saving: bool = False

    # Which account the open dialog acts on. Kept on the server: the browser names a row of
    # the page it was shown, and only those rows can be picked (see _pick).
    _target_id: int = 0

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    # ------------------------------------------------------------------ the list

    async def _reload(self):
        self.loading = True
        role = "" if self.role_filter == ALL_ROLES else self.role_filter
        try:
            rows, total = await self._run(
                accounts.list_users, query=self.query.strip(), role=role, page=self.page, page_size=PAGE_SIZE
            )
            pages = pages_for(total, PAGE_SIZE)
            if self.page > pages:  # the last page emptied (a filter or a change elsewhere)
                self.page = pages
                rows, total = await self._run(
                    accounts.list_users,
                    query=self.query.strip(),
                    role=role,
                    page=self.page,
                    page_size=PAGE_SIZE,
                )
        except DomainError as error:
            self.loading = False
            return rx.toast.error(str(error))
        self.rows, self.total = [_line(r) for r in rows], total
        self.loading, self.loaded = False, True
        return None

    @rx.event
    @requires("user.manage")
    async def load(self):
        self.dialog, self._target_id = "", 0
        return await self._reload()

    @rx.event
    @requires("user.manage")
    async def set_query(self, value: str):
        value = value if isinstance(value, str) else ""
        if len(value) > LIMITS["query"]:
            return rx.toast.error(f"Search for at most {LIMITS['query']} characters.")
        self.query, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("user.manage")
    async def set_role_filter(self, value: str):
        if value != ALL_ROLES and value not in ROLES:
            return rx.toast.error("Choose a role from the list.")
        self.role_filter, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("user.manage")
    async def clear_filters(self):
        self.query, self.role_filter, self.page = "", ALL_ROLES, 1
        return await self._reload()

    @rx.event
    @requires("user.manage")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    # ------------------------------------------------------------------ dialogs

    def _pick(self, user_id) -> UserLine:
        wanted = browser_id(user_id, "user")
        for line in self.rows:
            if line.id == wanted:
                return line
        raise ValidationError("That user is no longer on this page. Reload and try again.")

    def _open(self, dialog: str, line: UserLine | None = None) -> None:
        self.dialog, self.error_field, self.error_text, self.saving = dialog, "", "", False
        self.field_errors = {}
        self._target_id = line.id if line else 0
        self.dialog_username = line.username if line else ""

    def _fail(self, error: DomainError, fields: tuple[str, ...]) -> None:
        """Show a service's refusal next to its field when the dialog has one, else above the buttons."""
        self.saving = False
        shown = field_messages(error, fields)
        self.error_field, self.error_text = "", shown.pop("", "")
        self.field_errors = shown

    async def _done(self, message: str):
        self.dialog, self._target_id, self.saving = "", 0, False
        problem = await self._reload()
        return [rx.toast.success(message), problem] if problem else rx.toast.success(message)

    @rx.event
    @requires("user.manage")
    async def close_dialog(self):
        self._open("")

    @rx.event
    @requires("user.manage")
    async def on_dialog_change(self, is_open: bool):
        # Radix reports closing by Escape, the overlay or the close button.
        if not is_open:
            self._open("")

    @rx.event
    @requires("user.manage")
    async def toggle_form_role(self, role: str, checked: bool):
        if role not in ROLES:
            return rx.toast.error("Choose a role from the list.")
        roles = set(self.form_roles)
        roles = roles | {role} if checked is True else roles - {role}
        self.form_roles = [r for r in ROLES if r in roles]
        if "roles" in self.field_errors:
            self.field_errors = {k: v for k, v in self.field_errors.items() if k != "roles"}
        return None

    @rx.event
    @requires("user.manage")
    async def open_create(self):
        self._open("create")
        self.form_roles = []

    @rx.event
    @requires("user.manage")
    async def submit_create(self, form: dict):
        fields = ("username", "display_name", "email", "roles", "password")
        try:
            username, display_name = _text(form, "username"), _text(form, "display_name")
            email, password = _text(form, "email"), _text(form, "password")
        except ValidationError as error:
            self._fail(error, fields)
            return
        self.saving = True
        yield
        try:
            await self._run(
                accounts.create_user,
                username=username,
                display_name=display_name,
                email=email,
                password=password,
                roles=list(self.form_roles),
            )
        except DomainError as error:
            self._fail(error, fields)
            return
        yield await self._done(f"User {username.strip().lower()} created.")

    @rx.event
    @requires("user.manage")
    async def open_roles(self, user_id: int):
        try:
            line = self._pick(user_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open("roles", line)
        self.form_roles = list(line.roles)
        return None

    @rx.event
    @requires("user.manage")
    async def submit_roles(self):
        if not self._target_id:
            self._open("")
            return
        self.saving = True
        yield
        try:
            await self._run(accounts.set_user_roles, user_id=self._target_id, roles=list(self.form_roles))
        except DomainError as error:
            self._fail(error, ("roles",))
            return
        yield await self._done(f"Roles of {self.dialog_username} saved.")

    @rx.event
    @requires("user.manage")
    async def open_password(self, user_id: int):
        try:
            line = self._pick(user_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open("password", line)
        return None

    @rx.event
    @requires("user.manage")
    async def submit_password(self, form: dict):
        fields = ("password", "repeat")
        try:
            password = _text(form, "password")
            repeat = form.get("repeat", "")
            if password != repeat:
                raise ValidationError("The two passwords differ.", field="repeat")
        except ValidationError as error:
            self._fail(error, fields)
            return
        if not self._target_id:
            self._open("")
            return
        self.saving = True
        yield
        try:
            await self._run(accounts.reset_password, user_id=self._target_id, new_password=password)
        except DomainError as error:
            self._fail(error, fields)
            return
        yield await self._done(f"Password of {self.dialog_username} reset; their sessions have ended.")

    @rx.event
    @requires("user.manage")
    async def ask_confirm(self, action: str, user_id: int):
        """Disabling an account and resetting its second factor are asked about first."""
        if action not in ("disable", "reset_mfa"):
            return rx.toast.error("Choose an action from the menu.")
        try:
            line = self._pick(user_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open(action, line)
        return None

    @rx.event
    @requires("user.manage")
    async def confirm(self):
        action, username = self.dialog, self.dialog_username
        if action not in ("disable", "reset_mfa") or not self._target_id:
            self._open("")
            return
        self.saving = True
        yield
        try:
            if action == "disable":
                await self._run(accounts.set_user_active, user_id=self._target_id, active=False)
            else:
                await self._run(accounts.reset_mfa, user_id=self._target_id)
        except DomainError as error:
            self._fail(error, ())
            return
        done = (
            f"{username} is disabled; their sessions have ended."
            if action == "disable"
            else (
                f"Two-factor sign-in of {username} is reset; they enrol again at their next sign-in if a role needs it."
            )
        )
        yield await self._done(done)

    async def _act(self, user_id, service, message: str, **kwargs):
        try:
            line = self._pick(user_id)
            await self._run(service, user_id=line.id, **kwargs)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(message.format(username=line.username))

    @rx.event
    @requires("user.manage")
    async def enable(self, user_id: int):
        return await self._act(
            user_id, accounts.set_user_active, "{username} can sign in again.", active=True
        )

    @rx.event
    @requires("user.manage")
    async def unlock(self, user_id: int):
        return await self._act(user_id, accounts.unlock_user, "{username} is unlocked.")


# ---------------------------------------------------------------------- role matrix


@dataclass
class RoleColumn:
    name: str = ""
    label: str = ""
    mfa_required: bool = False


@dataclass
class MatrixCell:
    role: str = ""
    permission: str = ""
    granted: bool = False
    locked: bool = False  # a grant the service always refuses to take away


@dataclass
class MatrixRow:
    permission: str = ""
    description: str = ""
    cells: list[MatrixCell] = field(default_factory=list)


class RoleMatrixState(SessionState):
    """Permissions down, roles across, as the database holds them right now."""

    roles: list[RoleColumn] = []
    matrix: list[MatrixRow] = []
    loaded: bool = False

    async def _reload(self):
        try:
            grid = await self._run(accounts.role_matrix)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.roles = [RoleColumn(r.name, r.label, r.mfa_required) for r in grid]
        self.matrix = [
            MatrixRow(
                permission,
                description,
                [
                    MatrixCell(
                        r.name,
                        permission,
                        permission in r.permissions,
                        permission in LOCKED_GRANTS.get(r.name, ()),
                    )
                    for r in grid
                ],
            )
            for permission, description in PERMISSIONS.items()
        ]
        self.loaded = True
        return None

    @rx.event
    @requires("role.manage")
    async def load(self):
        return await self._reload()

    def _label(self, role: str) -> str:
        return next((r.label for r in self.roles if r.name == role), ROLES.get(role, role))

    @rx.event
    @requires("role.manage")
    async def set_grant(self, role: str, permission: str, granted: bool):
        if role not in ROLES or permission not in PERMISSIONS or not isinstance(granted, bool):
            return rx.toast.error("Choose a cell of the matrix.")
        try:
            await self._run(accounts.set_role_permission, role=role, permission=permission, granted=granted)
        except DomainError as error:
            # Reload as well, so the checkbox shows what the database really holds.
            problem = await self._reload()
            return (
                [rx.toast.error(str(error), id="matrix"), problem]
                if problem
                else rx.toast.error(str(error), id="matrix")
            )
        problem = await self._reload()
        verb = "granted to" if granted else "withdrawn from"
        return problem or rx.toast.success(f"{permission} {verb} {self._label(role)}.", id="matrix")

    @rx.event
    @requires("role.manage")
    async def set_mfa_required(self, role: str, required: bool):
        if role not in ROLES or not isinstance(required, bool):
            return rx.toast.error("Choose a role of the matrix.")
        try:
            await self._run(accounts.set_role_mfa_required, role=role, required=required)
        except DomainError as error:
            problem = await self._reload()
            return (
                [rx.toast.error(str(error), id="matrix"), problem]
                if problem
                else rx.toast.error(str(error), id="matrix")
            )
        problem = await self._reload()
        message = (
            f"Two-factor sign-in is now required for every {self._label(role)}."
            if required
            else f"Two-factor sign-in is now optional for {self._label(role)}."
        )
        return problem or rx.toast.success(message, id="matrix")

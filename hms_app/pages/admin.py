"""The administrator's screens: user accounts and the role-permission matrix."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, scroll_box, skeleton_rows
from hms_app.state.admin import (
    ALL_ROLES,
    LIMITS,
    STAFF_ROLES,
    AdminUsersState,
    MatrixCell,
    MatrixRow,
    RoleColumn,
    RoleMatrixState,
    UserLine,
)
from hms_app.state.session import MIN_PASSWORD_LENGTH, ROLE_LABELS

# Responsive display values (initial, sm, md, lg): the large breakpoint is 62em.
WIDE_CELL = ["none", "none", "none", "table-cell"]
NARROW_ONLY = ["block", "block", "block", "none"]
# Sticky cells need an opaque background: the header's translucent tint over the solid panel.
STICKY_HEADER = "linear-gradient(var(--gray-a2), var(--gray-a2)), var(--color-panel-solid)"
# Read out by screen readers, not drawn: the column of "..." buttons needs no visible heading.
VISUALLY_HIDDEN = {
    "position": "absolute",
    "width": "1px",
    "height": "1px",
    "overflow": "hidden",
    "clip": "rect(0 0 0 0)",
    "white_space": "nowrap",
}
PASSWORD_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters, with letters and digits, not containing the username."
)


# ---------------------------------------------------------------------- users: pieces


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        ("active", rx.badge("Active", color_scheme="green", variant="soft")),
        ("locked", rx.badge(rx.icon("lock", size=12), "Locked", color_scheme="orange", variant="soft")),
        rx.badge("Disabled", color_scheme="gray", variant="outline"),
    )


def mfa_badge(enabled: rx.Var) -> rx.Component:
    return rx.cond(
        enabled,
        rx.badge(rx.icon("shield-check", size=12), "On", color_scheme="teal", variant="soft"),
        rx.badge("Off", color_scheme="gray", variant="soft"),
    )


def row_menu(user: UserLine) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                size="2",
                aria_label="Actions for " + user.username,
                data_testid="actions-" + user.username,
            )
        ),
        rx.menu.content(
            rx.menu.item(
                rx.icon("users", size=14), "Edit roles", on_click=AdminUsersState.open_roles(user.id)
            ),
            rx.menu.item(
                rx.icon("key-round", size=14),
                "Reset password",
                on_click=AdminUsersState.open_password(user.id),
            ),
            rx.cond(
                user.status == "locked",
                rx.menu.item(
                    rx.icon("lock-open", size=14), "Unlock", on_click=AdminUsersState.unlock(user.id)
                ),
            ),
            rx.cond(
                user.mfa_enabled,
                rx.menu.item(
                    rx.icon("smartphone", size=14),
                    "Reset two-factor",
                    on_click=AdminUsersState.ask_confirm("reset_mfa", user.id),
                ),
            ),
            rx.menu.separator(),
            rx.cond(
                user.status == "disabled",
                rx.menu.item(
                    rx.icon("user-check", size=14), "Enable", on_click=AdminUsersState.enable(user.id)
                ),
                rx.menu.item(
                    rx.icon("user-x", size=14),
                    "Disable",
                    color="red",
                    on_click=AdminUsersState.ask_confirm("disable", user.id),
                ),
            ),
        ),
    )


def user_row(user: UserLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(user.username, weight="medium"),
            # Below the large breakpoint the name column gives its room to the rest; the name moves here.
            rx.text(user.display_name, size="1", color_scheme="gray", display=NARROW_ONLY),
            data_testid="username-cell",
        ),
        rx.table.cell(user.display_name, display=WIDE_CELL),
        rx.table.cell(
            rx.flex(
                rx.foreach(user.role_labels, lambda role: rx.badge(role, variant="surface")),
                wrap="wrap",
                spacing="1",
            ),
        ),
        rx.table.cell(status_badge(user.status)),
        rx.table.cell(mfa_badge(user.mfa_enabled)),
        rx.table.cell(
            rx.cond(
                user.last_sign_in_day != "",
                rx.flex(
                    rx.text(user.last_sign_in_day, white_space="nowrap"),
                    rx.text(user.last_sign_in_time, white_space="nowrap"),
                    wrap="wrap",
                    column_gap="0.35em",
                ),
                rx.text("never", color_scheme="gray"),
            )
        ),
        # Kept in view when a narrow screen scrolls the table sideways.
        rx.table.cell(
            row_menu(user),
            text_align="right",
            position="sticky",
            right="0",
            background="var(--color-panel-solid)",
        ),
        align="center",
        data_testid="user-row-" + user.username,
    )


def users_table() -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Username"),
                    rx.table.column_header_cell("Name", display=WIDE_CELL),
                    *[rx.table.column_header_cell(h) for h in ("Roles", "Status", "MFA", "Last sign-in")],
                    rx.table.column_header_cell(
                        rx.el.span("Actions", style=VISUALLY_HIDDEN),
                        width="3rem",
                        position="sticky",
                        right="0",
                        background=STICKY_HEADER,
                    ),
                )
            ),
            rx.table.body(rx.foreach(AdminUsersState.rows, user_row)),
            variant="surface",
            size=rx.breakpoints(initial="1", lg="2"),
            width="100%",
            # Radix clips the table for its rounded corners, which would also stop the
            # actions column from staying in view while the table scrolls sideways.
            style={"& .rt-TableRootTable": {"overflow": "visible"}},
        ),
    )


def filters() -> rx.Component:
    return rx.flex(
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Search username or name",
            value=AdminUsersState.query,
            on_change=AdminUsersState.set_query,
            max_length=LIMITS["query"],
            width="100%",
            max_width=["100%", "100%", "22rem"],
            data_testid="user-search",
        ),
        rx.select.root(
            rx.select.trigger(placeholder="All roles", min_width="11rem", data_testid="role-filter"),
            rx.select.content(
                rx.select.item("All roles", value=ALL_ROLES),
                rx.select.separator(),
                *[rx.select.item(label, value=name) for name, label in ROLE_LABELS.items()],
            ),
            value=AdminUsersState.role_filter,
            on_change=AdminUsersState.set_role_filter,
        ),
        rx.cond(AdminUsersState.loading, rx.spinner(size="2")),
        rx.spacer(),
        rx.button(
            rx.icon("user-plus", size=16),
            "New user",
            on_click=AdminUsersState.open_create,
            data_testid="new-user",
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


# ---------------------------------------------------------------------- users: dialogs


def field_error(name: str) -> rx.Component:
    return rx.cond(
        AdminUsersState.field_errors.contains(name),
        rx.text(
            rx.icon("circle-alert", size=12),
            " ",
            AdminUsersState.field_errors[name],
            color_scheme="red",
            size="1",
            data_testid="error-" + name,
        ),
    )


def general_error() -> rx.Component:
    return rx.cond(
        (AdminUsersState.error_text != "") & (AdminUsersState.error_field == ""),
        rx.callout(
            AdminUsersState.error_text,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="dialog-error",
        ),
    )


def labelled(label: str, control: rx.Component, name: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label"),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        field_error(name),
        spacing="1",
        width="100%",
        align="start",
    )


def role_checkboxes(roles: tuple[str, ...]) -> rx.Component:
    return rx.vstack(
        rx.text("Roles", size="2", weight="medium"),
        rx.grid(
            *[
                rx.checkbox(
                    ROLE_LABELS[name],
                    checked=AdminUsersState.form_roles.contains(name),
                    on_change=lambda checked, name=name: AdminUsersState.toggle_form_role(name, checked),
                    data_testid="role-" + name,
                )
                for name in roles
            ],
            columns=rx.breakpoints(initial="2", sm="3"),
            spacing="2",
            width="100%",
        ),
        field_error("roles"),
        spacing="2",
        width="100%",
    )


def dialog_buttons(submit_label: str, submit_type: str = "submit", on_click=None):
    submit = rx.button(
        submit_label,
        type=submit_type,
        loading=AdminUsersState.saving,
        data_testid="dialog-submit",
        **({"on_click": on_click} if on_click else {}),
    )
    return rx.flex(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        submit,
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def dialog(name: str, title: str, description, body: rx.Component, max_width: str = "32rem") -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width=max_width,
            data_testid="dialog-" + name,
        ),
        open=AdminUsersState.dialog == name,
        on_open_change=AdminUsersState.on_dialog_change,
    )


def create_dialog() -> rx.Component:
    return dialog(
        "create",
        "New user",
        "The person signs in with this username and the initial password; tell them to change it.",
        rx.form(
            rx.vstack(
                rx.grid(
                    labelled(
                        "Username",
                        rx.input(
                            name="username",
                            placeholder="e.g. dr.house",
                            required=True,
                            max_length=LIMITS["username"],
                            auto_complete="off",
                            width="100%",
                        ),
                        "username",
                        "Lowercase letters, digits, dots, dashes or underscores.",
                    ),
                    labelled(
                        "Full name",
                        rx.input(
                            name="display_name",
                            required=True,
                            max_length=LIMITS["display_name"],
                            width="100%",
                        ),
                        "display_name",
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                labelled(
                    "Email (optional)",
                    rx.input(name="email", type="email", max_length=LIMITS["email"], width="100%"),
                    "email",
                ),
                role_checkboxes(STAFF_ROLES),
                rx.text(
                    "Patient portal accounts belong to a patient's record and are not created here.",
                    size="1",
                    color_scheme="gray",
                ),
                labelled(
                    "Initial password",
                    rx.input(
                        name="password",
                        type="password",
                        required=True,
                        auto_complete="new-password",
                        max_length=LIMITS["password"],
                        width="100%",
                    ),
                    "password",
                    PASSWORD_HINT,
                ),
                general_error(),
                dialog_buttons("Create user"),
                spacing="3",
                width="100%",
            ),
            on_submit=AdminUsersState.submit_create,
            reset_on_submit=False,
        ),
        max_width="36rem",
    )


def roles_dialog() -> rx.Component:
    return dialog(
        "roles",
        "Edit roles",
        rx.text(
            "Roles of ",
            rx.code(AdminUsersState.dialog_username),
            ". The change applies within seconds, also to open screens.",
        ),
        rx.vstack(
            role_checkboxes(tuple(ROLE_LABELS)),
            general_error(),
            dialog_buttons("Save roles", submit_type="button", on_click=AdminUsersState.submit_roles),
            spacing="3",
            width="100%",
        ),
        max_width="36rem",
    )


def password_dialog() -> rx.Component:
    return dialog(
        "password",
        "Reset password",
        rx.text(
            "A new password for ",
            rx.code(AdminUsersState.dialog_username),
            ". This also unlocks the account and ends all of its sessions.",
        ),
        rx.form(
            rx.vstack(
                labelled(
                    "New password",
                    rx.input(
                        name="password",
                        type="password",
                        required=True,
                        auto_complete="new-password",
                        max_length=LIMITS["password"],
                        width="100%",
                    ),
                    "password",
                    PASSWORD_HINT,
                ),
                labelled(
                    "Repeat the new password",
                    rx.input(
                        name="repeat",
                        type="password",
                        required=True,
                        auto_complete="new-password",
                        max_length=LIMITS["password"],
                        width="100%",
                    ),
                    "repeat",
                ),
                general_error(),
                dialog_buttons("Reset password"),
                spacing="3",
                width="100%",
            ),
            on_submit=AdminUsersState.submit_password,
            reset_on_submit=False,
        ),
    )


def confirm_dialog(name: str, title: str, description, action_label: str) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description, size="2"),
            rx.box(general_error(), padding_top="0.75rem"),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    action_label,
                    color_scheme="red",
                    loading=AdminUsersState.saving,
                    on_click=AdminUsersState.confirm,
                    data_testid="confirm-" + name,
                ),
                spacing="3",
                justify="end",
                padding_top="1rem",
            ),
            max_width="30rem",
        ),
        open=AdminUsersState.dialog == name,
        on_open_change=AdminUsersState.on_dialog_change,
    )


# ---------------------------------------------------------------------- users: page


@staff_page(route="/admin/users", title="Users", on_load=AdminUsersState.load)
def users_page() -> rx.Component:
    return rx.vstack(
        refused("user.manage", "Your role does not give access to user accounts."),
        rx.cond(
            can("user.manage"),
            rx.vstack(
                filters(),
                rx.cond(
                    AdminUsersState.loaded,
                    rx.cond(
                        AdminUsersState.total > 0,
                        rx.vstack(
                            users_table(),
                            pager(
                                AdminUsersState.page,
                                AdminUsersState.page_count,
                                AdminUsersState.total,
                                AdminUsersState.move(-1),
                                AdminUsersState.move(1),
                                noun="users",
                            ),
                            width="100%",
                            spacing="3",
                        ),
                        rx.card(
                            empty_state("No user matches this search.", icon="user-search"),
                            rx.center(
                                rx.button(
                                    "Clear search", variant="soft", on_click=AdminUsersState.clear_filters
                                )
                            ),
                            width="100%",
                            data_testid="users-empty",
                        ),
                    ),
                    skeleton_rows(),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        create_dialog(),
        roles_dialog(),
        password_dialog(),
        confirm_dialog(
            "disable",
            "Disable this account?",
            rx.text(
                rx.code(AdminUsersState.dialog_username),
                " will be signed out everywhere and cannot sign in until the "
                "account is enabled again. Their records and audit trail stay.",
            ),
            "Disable",
        ),
        confirm_dialog(
            "reset_mfa",
            "Reset two-factor sign-in?",
            rx.text(
                "Use this when ",
                rx.code(AdminUsersState.dialog_username),
                " lost their phone. Their sessions end; they set "
                "up a new authenticator at their next sign-in if one of their roles requires it.",
            ),
            "Reset two-factor",
        ),
        spacing="4",
        width="100%",
    )


# ---------------------------------------------------------------------- roles matrix


def role_header(role: RoleColumn) -> rx.Component:
    return rx.table.column_header_cell(
        rx.text(role.label, size="1", weight="bold"),
        text_align="center",
        vertical_align="bottom",
        min_width="3.5rem",
        padding_x="0.25rem",
    )


def mfa_cell(role: RoleColumn) -> rx.Component:
    return rx.table.cell(
        rx.center(
            rx.switch(
                checked=role.mfa_required,
                on_change=lambda required: RoleMatrixState.set_mfa_required(role.name, required),
                aria_label="Two-factor sign-in required for " + role.label,
                data_testid="mfa-" + role.name,
            )
        ),
        padding_x="0.25rem",
    )


def grant_cell(cell: MatrixCell) -> rx.Component:
    box = rx.checkbox(
        checked=cell.granted,
        on_change=lambda granted: RoleMatrixState.set_grant(cell.role, cell.permission, granted),
        aria_label=cell.permission + " for " + cell.role,
        data_testid="grant-" + cell.role + "-" + cell.permission,
    )
    return rx.table.cell(
        rx.center(
            rx.cond(
                cell.locked,
                rx.tooltip(
                    rx.flex(
                        box, rx.icon("lock", size=12, color=rx.color("gray", 9)), spacing="1", align="center"
                    ),
                    content="Always kept: without it nobody could manage access.",
                ),
                box,
            ),
        ),
        padding_x="0.25rem",
    )


def permission_row(row: MatrixRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.code(row.permission, size="1", variant="ghost", weight="bold"),
                rx.text(row.description, size="1", color_scheme="gray"),
                spacing="0",
                align="start",
            ),
            min_width="11rem",
            position="sticky",
            left="0",
            background="var(--color-panel-solid)",
            z_index="1",
        ),
        rx.foreach(row.cells, grant_cell),
        align="center",
    )


def matrix_table() -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell(
                        "Permission",
                        vertical_align="bottom",
                        position="sticky",
                        left="0",
                        background=STICKY_HEADER,
                        z_index="1",
                    ),
                    rx.foreach(RoleMatrixState.roles, role_header),
                ),
            ),
            rx.table.body(
                rx.table.row(
                    rx.table.row_header_cell(
                        rx.vstack(
                            rx.text("Two-factor sign-in required", size="2", weight="medium"),
                            rx.text(
                                "Members enrol with a QR code at their next sign-in.",
                                size="1",
                                color_scheme="gray",
                            ),
                            spacing="0",
                            align="start",
                        ),
                        position="sticky",
                        left="0",
                        background=rx.color("accent", 2),
                        z_index="1",
                    ),
                    rx.foreach(RoleMatrixState.roles, mfa_cell),
                    background=rx.color("accent", 2),
                    align="center",
                ),
                rx.foreach(RoleMatrixState.matrix, permission_row),
            ),
            variant="surface",
            size="1",
            width="100%",
        ),
        data_testid="role-matrix",
    )


@staff_page(route="/admin/roles", title="Roles & access", on_load=RoleMatrixState.load)
def roles_page() -> rx.Component:
    return rx.vstack(
        refused("role.manage", "Your role does not give access to the role matrix."),
        rx.cond(
            can("role.manage"),
            rx.vstack(
                rx.text(
                    "Each tick grants a permission to everyone holding the role; the change is written to the audit "
                    "trail and takes effect within seconds. Locked ticks keep administrators able to manage access.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.cond(
                    RoleMatrixState.loaded,
                    matrix_table(),
                    rx.vstack(
                        *[rx.skeleton(rx.box(height="2.5rem", width="100%")) for _ in range(8)],
                        width="100%",
                        spacing="2",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )

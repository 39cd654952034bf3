"""The FHIR clients screen: the system clients that may use the FHIR API, their keys and tokens."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, scroll_box, skeleton_rows
from hms_app.state.fhir_clients import CLIENT_ROLES, LIMITS, ClientLine, FhirClientsState

S = FhirClientsState
# The actions column is read out by screen readers, not drawn.
VISUALLY_HIDDEN = {
    "position": "absolute",
    "width": "1px",
    "height": "1px",
    "overflow": "hidden",
    "clip": "rect(0 0 0 0)",
    "white_space": "nowrap",
}
STICKY_HEADER = "linear-gradient(var(--gray-a2), var(--gray-a2)), var(--color-panel-solid)"
SCOPES_HINT = (
    "SMART scopes separated by spaces: system/Patient.read, system/Observation.rs, system/*.read "
    "(v1 read, write, * or v2 letters of cruds)."
)
JWKS_HINT = (
    'The client\'s public keys as a JWKS: {"keys": [{"kty": "RSA", "kid": ..., "n": ..., "e": ...}]}. '
    "RSA (RS384) or EC P-384 (ES384); never the private key."
)


def row_menu(client: ClientLine) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                size="2",
                aria_label="Actions for " + client.name,
                data_testid="actions-" + client.name,
            )
        ),
        rx.menu.content(
            rx.menu.item(rx.icon("pencil", size=14), "Edit scopes and keys", on_click=S.open_edit(client.id)),
            rx.menu.item(
                rx.icon("ticket-x", size=14), "Revoke all tokens", on_click=S.ask_confirm("revoke", client.id)
            ),
            rx.menu.separator(),
            rx.cond(
                client.enabled,
                rx.menu.item(
                    rx.icon("unplug", size=14),
                    "Disable",
                    color="red",
                    on_click=S.ask_confirm("disable", client.id),
                ),
                rx.menu.item(rx.icon("plug-zap", size=14), "Enable", on_click=S.enable(client.id)),
            ),
        ),
    )


def client_row(client: ClientLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(client.name, weight="medium"),
            rx.text(client.description, size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.badge(client.role_label, variant="surface")),
        rx.table.cell(
            rx.flex(
                rx.foreach(client.scopes, lambda scope: rx.code(scope, size="1", variant="soft")),
                wrap="wrap",
                gap="1",
            )
        ),
        rx.table.cell(client.key_count),
        rx.table.cell(
            rx.cond(
                client.enabled,
                rx.badge("Enabled", color_scheme="green", variant="soft"),
                rx.badge("Disabled", color_scheme="gray", variant="outline"),
            )
        ),
        rx.table.cell(
            rx.cond(
                client.last_token != "",
                rx.vstack(
                    rx.text(client.last_token, white_space="nowrap"),
                    rx.text(client.live_tokens, " live", size="1", color_scheme="gray"),
                    spacing="0",
                ),
                rx.text("never", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            row_menu(client),
            text_align="right",
            position="sticky",
            right="0",
            background="var(--color-panel-solid)",
        ),
        align="center",
        data_testid="client-row-" + client.name,
    )


def clients_table() -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Client", "Role", "Allowed scopes", "Keys", "Status", "Last token")
                    ],
                    rx.table.column_header_cell(
                        rx.el.span("Actions", style=VISUALLY_HIDDEN),
                        width="3rem",
                        position="sticky",
                        right="0",
                        background=STICKY_HEADER,
                    ),
                )
            ),
            rx.table.body(rx.foreach(S.rows, client_row)),
            variant="surface",
            size=rx.breakpoints(initial="1", lg="2"),
            width="100%",
            style={"& .rt-TableRootTable": {"overflow": "visible"}},
        )
    )


# ---------------------------------------------------------------------- dialogs


def field_error(name: str) -> rx.Component:
    return rx.cond(
        S.field_errors.contains(name),
        rx.text(
            rx.icon("circle-alert", size=12),
            " ",
            S.field_errors[name],
            color_scheme="red",
            size="1",
            data_testid="error-" + name,
        ),
    )


def general_error() -> rx.Component:
    return rx.cond(
        S.error_text != "",
        rx.callout(
            S.error_text,
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


def role_select() -> rx.Component:
    return labelled(
        "Role",
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="client-role"),
            rx.select.content(*[rx.select.item(label, value=name) for name, label in CLIENT_ROLES.items()]),
            value=S.form_role,
            on_change=S.set_form_role,
        ),
        "role",
        "Its permissions are what its tokens may do (with the scopes). Edit them on Roles & access.",
    )


def buttons(submit_label: str) -> rx.Component:
    return rx.flex(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        rx.button(submit_label, type="submit", loading=S.saving, data_testid="dialog-submit"),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def client_form(*, create: bool) -> rx.Component:
    return rx.form(
        rx.vstack(
            labelled(
                "Name (client_id)",
                rx.input(
                    name="name",
                    placeholder="e.g. regional-lab",
                    required=True,
                    max_length=LIMITS["name"],
                    auto_complete="off",
                    width="100%",
                ),
                "name",
                "3 to 55 letters, digits, dots, dashes or underscores. The client signs its assertions with it.",
            )
            if create
            else rx.fragment(),
            labelled(
                "Description",
                rx.input(
                    name="description",
                    default_value=S.dialog_description,
                    max_length=LIMITS["description"],
                    width="100%",
                ),
                "description",
            ),
            role_select(),
            labelled(
                "Allowed scopes",
                rx.text_area(
                    name="scopes",
                    default_value=S.dialog_scopes,
                    placeholder="system/Patient.read system/Observation.rs",
                    required=True,
                    max_length=LIMITS["scopes"],
                    rows="2",
                    width="100%",
                ),
                "scope",
                SCOPES_HINT,
            ),
            labelled(
                "Public keys (JWKS)",
                rx.text_area(
                    name="jwks",
                    placeholder='{"keys": [...]}',
                    max_length=LIMITS["jwks"],
                    rows="5",
                    width="100%",
                    font_family="monospace",
                ),
                "jwks",
                JWKS_HINT
                if create
                else "Paste a new key set to replace the registered keys; leave empty to keep them.",
            ),
            general_error(),
            buttons("Register client" if create else "Save"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.submit_create if create else S.submit_edit,
        reset_on_submit=False,
    )


def form_dialog(name: str, title: str, description, body: rx.Component) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width="40rem",
            data_testid="dialog-" + name,
        ),
        open=S.dialog == name,
        on_open_change=S.on_dialog_change,
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
                    loading=S.saving,
                    on_click=S.confirm,
                    data_testid="confirm-" + name,
                ),
                spacing="3",
                justify="end",
                padding_top="1rem",
            ),
            max_width="30rem",
        ),
        open=S.dialog == name,
        on_open_change=S.on_dialog_change,
    )


# ---------------------------------------------------------------------- the page


@staff_page(route="/admin/fhir-clients", title="FHIR clients", on_load=S.load)
def fhir_clients_page() -> rx.Component:
    return rx.vstack(
        refused("fhir.client.manage", "Your role does not give access to FHIR clients."),
        rx.cond(
            can("fhir.client.manage"),
            rx.vstack(
                rx.flex(
                    rx.text(
                        "Systems that use the FHIR API sign a short assertion with their registered key and get a "
                        "short-lived bearer token (SMART Backend Services). Every token and every refusal is "
                        "on the audit trail.",
                        size="2",
                        color_scheme="gray",
                        max_width="48rem",
                    ),
                    rx.spacer(),
                    rx.cond(S.loading, rx.spinner(size="2")),
                    rx.button(
                        rx.icon("plus", size=16),
                        "Register client",
                        on_click=S.open_create,
                        data_testid="new-client",
                    ),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
                rx.cond(
                    S.loaded,
                    rx.cond(
                        S.rows.length() > 0,
                        clients_table(),
                        rx.card(
                            empty_state("No FHIR client is registered yet.", icon="plug"),
                            width="100%",
                            data_testid="clients-empty",
                        ),
                    ),
                    skeleton_rows(),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        form_dialog(
            "create",
            "Register a FHIR client",
            "It acts as an account of its own that never signs in on these screens.",
            client_form(create=True),
        ),
        form_dialog(
            "edit",
            "Edit FHIR client",
            rx.text("Scopes, role and keys of ", rx.code(S.dialog_name), "."),
            client_form(create=False),
        ),
        confirm_dialog(
            "disable",
            "Disable this client?",
            rx.text(
                rx.code(S.dialog_name),
                " gets no new token and its live tokens stop working at once. Its audit trail stays.",
            ),
            "Disable",
        ),
        confirm_dialog(
            "revoke",
            "Revoke all its tokens?",
            rx.text(
                "Every live token of ",
                rx.code(S.dialog_name),
                " stops working at once; the client can ask for a new one with its key.",
            ),
            "Revoke tokens",
        ),
        spacing="4",
        width="100%",
    )

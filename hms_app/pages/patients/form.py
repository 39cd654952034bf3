"""The demographics form's fields, shared by registration (watched for duplicates) and the
details page (prefilled for edits)."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.patients.common import card, grid, labelled, text_input
from hms_app.state.patients.common import SEXES
from hms_app.state.patients.register import PatientRegisterState

SEX_LABELS = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}


def watched_input(name: str, value: rx.Var, **props) -> rx.Component:
    """Bound to the state through a debounced change, so the matches follow the typing."""
    return rx.input(
        name=name,
        id=name,
        value=value,
        on_change=lambda v: PatientRegisterState.set_watched(name, v),
        debounce_timeout=300,
        width="100%",
        **props,
    )


def sex_select(default_value=None, disabled=False) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="Choose", width="100%", id="sex", data_testid="sex-select"),
        rx.select.content(*[rx.select.item(SEX_LABELS[s], value=s) for s in SEXES]),
        name="sex",
        **({"default_value": default_value} if default_value is not None else {}),
        disabled=disabled,
    )


def consent_box(name: str, label: str, default_checked=None, disabled=False) -> rx.Component:
    return rx.checkbox(
        label,
        name=name,
        **({"default_checked": default_checked} if default_checked is not None else {}),
        disabled=disabled,
        data_testid=name,
    )


def demographic_fields(
    state, watched: bool, values=None, consents=None, disabled=False
) -> list[rx.Component]:
    """The four cards of the demographics form, for registration (watched) and for edits (prefilled)."""

    def plain(name: str, max_length: int = 80, **props):
        extra = {"default_value": values[name]} if values is not None else {}
        if not watched:  # an example in an empty field of a saved record reads like data
            props.pop("placeholder", None)
        return text_input(name, max_length=max_length, disabled=disabled, **extra, **props)

    def live(name: str, max_length: int = 80, **props):
        if watched:
            return watched_input(name, getattr(PatientRegisterState, name), max_length=max_length, **props)
        return plain(name, max_length=max_length, **props)

    return [
        card(
            "Identity",
            "id-card",
            grid(
                labelled(
                    state,
                    "Given name",
                    "given_name",
                    live("given_name", required=True, auto_complete="off", auto_focus=watched),
                ),
                labelled(state, "Middle name", "middle_name", plain("middle_name")),
                labelled(
                    state,
                    "Family name",
                    "family_name",
                    live("family_name", required=True, auto_complete="off"),
                ),
                labelled(
                    state, "Sex", "sex", sex_select(values["sex"] if values is not None else None, disabled)
                ),
                labelled(
                    state, "Date of birth", "birth_date", live("birth_date", max_length=10, type="date")
                ),
                columns=rx.breakpoints(initial="1", sm="2", md="3"),
            ),
        ),
        card(
            "Contact",
            "phone",
            grid(
                labelled(
                    state,
                    "Phone",
                    "phone",
                    live("phone", max_length=30, type="tel", placeholder="+1 555 010 2030"),
                ),
                labelled(state, "Email", "email", plain("email", max_length=200, type="email")),
                labelled(state, "Address", "address_line", plain("address_line", max_length=200)),
                labelled(state, "City", "city", plain("city")),
                labelled(state, "Postal code", "postal_code", plain("postal_code", max_length=20)),
                labelled(state, "Country", "country", plain("country", max_length=60)),
                labelled(
                    state,
                    "Preferred language",
                    "preferred_language",
                    plain("preferred_language", max_length=40, placeholder="e.g. English"),
                ),
            ),
        ),
        card(
            "Emergency contact",
            "siren",
            grid(
                labelled(
                    state, "Name", "emergency_contact_name", plain("emergency_contact_name", max_length=120)
                ),
                labelled(
                    state,
                    "Phone",
                    "emergency_contact_phone",
                    plain("emergency_contact_phone", max_length=30, type="tel"),
                ),
                labelled(
                    state,
                    "Relationship",
                    "emergency_contact_relation",
                    plain("emergency_contact_relation", max_length=40, placeholder="e.g. spouse"),
                ),
                columns=rx.breakpoints(initial="1", sm="3"),
            ),
        ),
        card(
            "Consent",
            "file-check",
            rx.flex(
                *[
                    consent_box(name, label, consents[name] if consents is not None else None, disabled)
                    for name, label in (
                        ("consent_data_sharing", "Share data with other care providers"),
                        ("consent_sms", "Reminders by SMS"),
                        ("consent_research", "Use of anonymised data for research"),
                    )
                ],
                direction=rx.breakpoints(initial="column", sm="row"),
                spacing="4",
                wrap="wrap",
            ),
        ),
    ]

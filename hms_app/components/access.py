"""What a page draws for the signed-in user's permissions. Only for what to draw: every handler
and service checks the permission again on the server, so a hidden button guards nothing."""

from __future__ import annotations

import reflex as rx

from hms_app.state.session import SessionState


def can(permission: str) -> rx.Var:
    """Whether the signed-in user holds ``permission``."""
    return SessionState.user_permissions.contains(permission)


def no_access(message: str, **props) -> rx.Component:
    """The amber notice a role without access sees instead of a screen."""
    return rx.callout(message, icon="shield-alert", color_scheme="amber", data_testid="no-access", **props)


def refused(permission: str, message: str) -> rx.Component:
    """``no_access(message)`` for a user without ``permission``; nothing for the others."""
    return rx.cond(~can(permission), no_access(message))

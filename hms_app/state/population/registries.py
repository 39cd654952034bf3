"""The registries and their ICD-10-CM code sets (/population/registries)."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.population.registries import list_registries, save_registry
from hms_app.state.forms import form_fields, form_text
from hms_app.state.session import SessionState, browser_id, requires


@dataclass
class RegistryLine:
    id: int = 0
    code: str = ""
    name: str = ""
    active: bool = True
    prefixes: str = ""
    members: int = 0


class RegistriesState(SessionState):
    """The registries and their ICD-10-CM code sets."""

    loaded: bool = False
    rows: list[RegistryLine] = []
    form_key: int = 0  # changes after a save so that the forms show the stored values again
    error_registry: int = -1  # the form showing error_text (0: the new-registry form)
    error_text: str = ""
    saving: bool = False

    async def _reload(self):
        rows = await self._run(list_registries)
        self.rows = [
            RegistryLine(r.id, r.code, r.name, r.active, ", ".join(r.prefixes), r.members) for r in rows
        ]

    @rx.event
    @requires("population.read")
    async def load(self):
        try:
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        self.loaded = True
        return None

    @rx.event
    @requires("population.manage")
    async def save(self, form: dict):
        if not isinstance(form, dict):
            return rx.toast.error("This form could not be read.")
        registry_id = 0
        try:
            raw_id = form_text(form, "registry_id").strip() or "0"
            registry_id = 0 if raw_id == "0" else browser_id(raw_id, "registry")
            if registry_id and registry_id not in [r.id for r in self.rows]:
                raise ValidationError("Choose a registry from the list.")
            fields = form_fields(form, ("code", "name", "prefixes", "active"))
            self.saving = True
            row = await self._run(
                save_registry,
                registry_id=registry_id or None,
                code=fields["code"],
                name=fields["name"],
                prefixes=fields["prefixes"],
                active=fields["active"].lower() in ("on", "true", "1"),
            )
            await self._reload()
        except DomainError as error:
            self.saving = False
            self.error_registry, self.error_text = registry_id, str(error)
            return rx.toast.error(str(error))
        self.saving, self.error_registry, self.error_text = False, -1, ""
        self.form_key += 1
        return rx.toast.success(f"{row.name}: {row.members:,} patients in the registry now.")

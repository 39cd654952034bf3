"""An item's printable labels (/inventory/items/[item_id]/label): its code as Code 128, its name and
unit, a sheet for the shelves and bins."""

from __future__ import annotations

import re

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory.catalogue_views import item_label
from hms_app.state.session import SessionState, requires


def _route_item_id(path: str) -> int:
    match = re.match(r"^/inventory/items/(\d{1,12})/label/?$", path or "")
    if match is None or int(match.group(1)) <= 0:
        raise ValidationError("This address does not name a stock item. Open its label from the catalogue.")
    return int(match.group(1))


class ItemLabelState(SessionState):
    problem: str = ""
    loaded: bool = False
    item_id: int = 0
    code: str = ""
    name: str = ""
    unit: str = ""
    gtin: str = ""
    barcode: str = ""

    @rx.event
    @requires("inventory.read")
    async def load(self):
        self.loaded, self.problem = False, ""
        try:
            self.item_id = _route_item_id(self.router.url.path)
            label = await self._read(item_label, item_id=self.item_id)
        except DomainError as error:
            self.problem = str(error)
            return None
        self.code, self.name, self.unit, self.gtin = label.code, label.name, label.base_unit, label.gtin
        self.barcode, self.loaded = label.barcode_svg_data_url, True
        return None

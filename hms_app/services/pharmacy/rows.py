"""The frozen rows the pharmacy services return (never table rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class IngredientView:
    ingredient: str
    strength: Decimal
    strength_unit: str


@dataclass(frozen=True)
class ProductView:
    id: int
    code: str
    name: str
    dose_form: str
    form_label: str
    routes: tuple[str, ...]
    ingredients: tuple[IngredientView, ...]
    strength_volume: Decimal
    counting_unit: str
    dose_units: tuple[str, ...]  # what a dose may be written in
    dispense_unit: str
    package_size: Decimal
    pack_size: int
    rxcui: str | None
    atc: str | None
    synonyms: tuple[str, ...]
    formulary_status: str
    restriction: str | None
    stock_item_id: int | None
    stock_code: str | None
    active: bool
    scored: bool = False
    priming_units: int = 0
    wear_hours: int | None = None
    drops_per_ml: int | None = None


@dataclass(frozen=True)
class AlertView:
    """An order check as the prescriber sees it (from the engine's Alert)."""

    rule: str
    kind: str
    severity: str
    interrupt: bool
    message: str
    action: str
    drugs: tuple[str, ...]


@dataclass(frozen=True)
class PreparedOrder:
    """A draft order with what the prescriber must see before signing."""

    order_id: int
    reference: str
    product: str
    sig: str  # "500 mg oral TID for 7 days"
    dispense_quantity: int
    dispense_unit: str
    quantity_basis: str
    alerts: tuple[AlertView, ...]

    @property
    def needs_override(self) -> tuple[str, ...]:
        """The rules of the interrupting alerts: each needs a reason to sign."""
        return tuple(a.rule for a in self.alerts if a.interrupt)


@dataclass(frozen=True)
class OrderView:
    id: int
    reference: str
    patient_id: int
    product_id: int
    product: str
    sig: str
    setting: str
    dose: Decimal
    dose_unit: str
    route: str
    frequency: str
    prn: bool
    prn_indication: str | None
    max_doses_per_day: int | None
    start_at: datetime
    end_at: datetime | None
    duration_days: int | None
    instructions: str | None
    dispense_quantity: int
    dispense_unit: str
    quantity_basis: str
    status: str
    prescriber: str
    signed_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    replaces_id: int | None
    replace_kind: str | None
    overrides: tuple[str, ...]  # "rule: reason"
    sent_back: str | None = None  # the pharmacist's reason, when the order was sent back


# A rule shown at least NOISY_MIN_SHOWN times and signed past at least NOISY_PERCENT % of them
# interrupts prescribers who nearly always go ahead: the report flags it for tuning.
NOISY_PERCENT = 90
NOISY_MIN_SHOWN = 10


@dataclass(frozen=True)
class OverrideRate:
    """One rule's alerts shown (distinct orders) and how many of them were signed past."""

    rule: str
    kind: str
    shown: int
    overridden: int

    @property
    def rate(self) -> float:
        return self.overridden / self.shown if self.shown else 0.0

    @property
    def noisy(self) -> bool:
        """Shown often and nearly always overridden (whole numbers: 9 of 10 is exactly 90 %)."""
        return self.shown >= NOISY_MIN_SHOWN and self.overridden * 100 >= NOISY_PERCENT * self.shown

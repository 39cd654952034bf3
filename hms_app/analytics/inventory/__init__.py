"""The inventory dashboard: every figure is one SQL aggregate (GROUP BY in the database) returning a
small DataFrame, and a second function drawing it with Plotly.

Modules: ``stock`` (what the stores hold today: value, expiry, stock-outs, slow movers), ``flows``
(what moved in the period: consumption, supplier lead times), ``dashboard`` (every figure at once),
``drill`` (what is behind a bar or a cell), ``charts`` (Plotly); ``common`` holds the filters and
the valuation. They compute only: who may read them is the business of
``hms_app/services/inventory/dashboard.py``, which calls them.

Definitions (``tests/services/test_inventory_figures.py`` recomputes every one with pandas from the
raw rows and compares to the cent):

* **Stock on hand** is the balance table (``stock_balance``: per store and lot, the sum of the
  lot's ledger moves at the store, proved equal to the ledger by ``balance_mismatches``). A lot is
  **usable** on a day when it has no expiry or expires that day or later; otherwise it is expired.
* **Valuation** (``HMS_STOCK_VALUATION``, and a switch on the page): **FIFO** values each lot at
  its own receipt cost (``stock_lot.unit_cost_cents``), untracked stock (one pooled lot per item)
  and lots without a cost at the item's moving average; **moving average** values every unit at
  ``stock_item.average_cost_cents``, which each receipt updates. **Written down**: expired stock is
  worth nothing in the stock value; what it would have been worth is reported beside it.
* **Stock value by store** = Σ quantity x unit value of the usable lots at the store, on the day.
* **Expiring** = the same quantity x unit value (before any write-down) of lots with an expiry on
  or before the day + 90, per store and window: expired (before the day), 0-30 days (the day to
  day + 30), 31-60, 61-90.
* **Stock-outs**: of the items a store stocks (those with a ``stock_level`` there, active items),
  "out" = no usable stock, "low" = usable stock above nothing and at or below the reorder point.
* **Slow movers**: each item at each store that holds some of it and has moved none of it out
  (an issue to a patient, a department or a repair, or a transfer to another store: the central
  store issues to the wards by transfer) since local midnight ``idle_days`` ago; its value is the
  written-down stock value; ``last_issue`` is the day of the store's last such move ever.
* **Consumption** = -Σ quantity x ``unit_cost_cents`` of the issue moves (patient, department,
  repair) and returns (which count back), in the period's local days, by the hospital's month
  and the move's department (a patient's issue carries the store's department).
* **Supplier lead times**: purchase orders sent in the period (not cancelled). An order's lead time
  is the time from ``sent_at`` to its first receipt move on one of its lines (days with the
  fraction); the promise is the supplier's ``lead_time_days``. Late = delivered more than a day
  past the promise; waiting = nothing delivered yet; overdue = waiting and more than a day past
  the promise now. With the category filter only that category's lines count; the store filter is
  the order's delivery store.
* **Filters**: the store and category filters apply to every figure; the period to consumption and
  orders (stock figures are of the day). Nothing here names a patient, so nothing is audited.
"""

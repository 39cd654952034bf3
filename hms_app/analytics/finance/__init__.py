"""The finance dashboard: every figure is one SQL aggregate (GROUP BY in the database) returning
a small DataFrame, and a second function drawing it with Plotly.

Modules: ``revenue`` (revenue, payer mix, charges against collections), ``receivables``,
``expenses``, ``dashboard`` (every figure at once), ``drill`` (what is behind a bar), ``figures``
(Plotly); ``common`` holds the filters and the hospital's days and months. They compute only:
who may read them, and the audit rows of listings that name patients, are the business of
``hms_app/services/billing/finance_reports.py``, which calls them.

Definitions (what each number means; ``tests/services/test_finance_figures.py`` recomputes every
one of them with pandas from the raw rows and compares to the cent):

* **Period.** A date range ``start``..``end`` (both days included) in the hospital's time zone
  (``HMS_TIME_ZONE``): it runs from local midnight at the start of ``start`` to local midnight
  at the end of ``end``. Months are the hospital's months, labelled ``YYYY-MM``: an invoice
  issued at 23:30 on 31 March in New York is March revenue although it is April in UTC.
* **Revenue** = the sum of ``invoice_line.line_total_cents`` (quantity x unit price - line
  discount + tax: *tax included*, so that revenue, collections and receivables compare like with
  like; the tax part is reported beside it as ``tax_cents``) of invoices whose status is
  ``issued`` (drafts are not revenue yet, voided invoices never were), dated by the invoice's
  ``issued_at``. A void made later removes the invoice from every period it was counted in.
* **Revenue by department / service** group the same lines by the line's department and code.
* **Payer mix** = the same revenue grouped by the invoice's payer; an invoice without a payer is
  "Self-pay".
* **Charges** = ``quantity x unit_price_cents`` (before discounts and tax) of charge items that
  are not void, dated by ``entered_at``, whether or not they have been invoiced yet.
* **Collections** = money received: the sum of ``payment.amount_cents`` by ``received_at``,
  refunds (negative amounts) included, so it is *net of refunds*. Method ``credit`` moves credit
  the patient already had onto an invoice; it is not new money and is not a collection.
  Insurer payments (method ``insurer``) are collections.
* **Outstanding (accounts receivable) as of a day** (the end of the period unless chosen): for
  each invoice that had been issued by the end of that day and was not void at that moment,
  ``total_cents`` - what payments received by then applied to it (``payment.applied_cents``:
  desk payments, credit used on it, insurer remittances, minus refunds taken back from it).
  Invoices with a balance above zero are receivables.
* **AR aging** buckets those balances by whole days from the local day of issue to the as-of
  day (invoices carry no due date): 0-30, 31-60, 61-90 and over 90 days.
* **Top outstanding balances** are the largest of those balances (ties: the older invoice).
* **Expenses** = ``expense.amount_cents`` by ``incurred_on`` (a calendar day, already local),
  grouped by month, department and category.
* **Department filter.** It applies to what carries a department: invoice lines (revenue,
  payer mix), charge items and expenses. Collections and receivables belong to invoices and
  payments, which span departments, so they stay hospital-wide and the page says so.
* **Behind a bar** (``invoices_behind``): the invoices whose lines make the bar (with what they
  add to it, so a page's amounts add up to the bar), the balances of an aging bucket, the charge
  items or payments of a month, or the expenses. Paged in SQL; a listing that names patients
  writes one audit row (``finance.invoices_listed``; the CSV: ``finance.invoices_exported``).
"""

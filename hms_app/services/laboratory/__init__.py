"""Laboratory: the test catalogue, orders, specimens, results with their flags, verification and
release, and the screens' reads.

One module per concern: ``common`` (permissions, loading rows, audit, plain-text parsing),
``units`` (UCUM conversion of an analyser's unit to the test's), ``catalogue`` (tests, panels,
reference ranges), ``orders`` (placing and cancelling orders, duplicate warnings), ``specimens``
(collection with its charges, reception by scan, rejection and re-collection, labels),
``results`` (manual results, verification by a second person, release into the chart,
corrections), ``analyser`` (an analyser message's results stored together, lookups batched),
``judging`` (what both share: value parsing, flags, delta checks, the critical alert), ``critical`` (the critical-result loop),
``views`` (the row types every screen shows and the worklist, cumulative, trend, chart, portal
and turnaround reads). The pure flag and delta rules live in ``hms_app.cds.lab_flags``.
Callers import from the modules.
"""

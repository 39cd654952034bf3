"""Pharmacy: the formulary, structured prescribing with its dispense quantities, the order checks
at ordering time and their overrides.

One module per concern: ``common`` (permissions, loading rows, audit, parsing), ``frequencies``
(the frequency codes with their administration times), ``quantity`` (the dispense quantity of
every dose form, pure arithmetic), ``formulary`` (search, read, save), ``checks`` (the patient's
context from the chart and the bundled engine ``hms_app.cds.medications``), ``prescribing``
(prepare and sign, the chart's medication list), ``changes`` (stop, change, renew, a patient's
orders), ``overrides`` (override rates per rule, the report over days), ``lifecycle`` (the periodic
job that completes orders past their end). Callers import from the modules.
"""

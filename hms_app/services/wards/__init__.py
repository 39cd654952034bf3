"""Inpatient wards: admit, transfer and discharge patients between beds; clean beds, take them
out of service; the bed board with occupancy and length of stay.

One patient per bed is the database's job: a bed goes ``free -> occupied`` only through a
conditional UPDATE (of two concurrent admissions to one bed exactly one changes a row), and a
unique partial index allows one open ``bed_assignment`` per bed behind it. Every write is
audited and, after its commit, tells the open bed boards of the ward(s) it touched.

One module per concern: ``board`` (the reads), ``admissions`` (admit, transfer, discharge, the
stay's beds) and ``beds`` (a bed's own status). Other domains (the benchmarks, the browser tests)
import the names below from here; the ward domain's own code imports from the modules.
"""

from hms_app.services.wards.admissions import admit_patient, discharge_patient, transfer_patient
from hms_app.services.wards.beds import mark_bed_clean

__all__ = ["admit_patient", "discharge_patient", "mark_bed_clean", "transfer_patient"]

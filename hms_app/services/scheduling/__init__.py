"""Scheduling: free slots, booking, the visit flow, the waitlist, set-up, and the reads for the screens.

One module per concern: ``slots`` (free-time search), ``booking`` (book, move, cancel, series),
``flow`` (check-in, call, complete, no-show, the queue), ``waitlist``, ``setup`` (resources,
services, visit types, templates, leave and closures), ``lists`` and ``calendar`` (reads for
the screens), ``portal`` (what the portal's booking steps offer), ``stats`` (no-show rates);
``appointments``, ``policy`` and ``parsing`` are the steps and rules they share.

Other domains import the names below from here; the scheduling domain's own code imports
from the modules.
"""

from hms_app.services.scheduling.appointments import make_reference
from hms_app.services.scheduling.booking import (
    book_appointment,
    cancel_appointment,
    portal_change_refusal,
    reschedule_appointment,
)
from hms_app.services.scheduling.flow import call_patient, check_in, complete_appointment, mark_no_show
from hms_app.services.scheduling.lists import (
    AppointmentRow,
    get_appointment,
    list_resources,
    list_services,
    patient_appointments,
)
from hms_app.services.scheduling.policy import SlotTaken, policy
from hms_app.services.scheduling.setup import (
    add_availability_rule,
    delete_availability_exception,
    link_resource_service,
    list_exceptions,
    save_appointment_type,
    save_resource,
    save_service,
)
from hms_app.services.scheduling.slots import (
    block_starts,
    find_free_slots,
    local_moment,
)
from hms_app.services.scheduling.waitlist import (
    accept_offer,
    decline_offer,
    expire_offers,
    join_waitlist,
    leave_waitlist,
    list_waitlist,
)

__all__ = [
    "AppointmentRow",
    "SlotTaken",
    "accept_offer",
    "add_availability_rule",
    "block_starts",
    "book_appointment",
    "call_patient",
    "cancel_appointment",
    "check_in",
    "complete_appointment",
    "decline_offer",
    "delete_availability_exception",
    "expire_offers",
    "find_free_slots",
    "get_appointment",
    "join_waitlist",
    "leave_waitlist",
    "link_resource_service",
    "list_exceptions",
    "list_resources",
    "list_services",
    "list_waitlist",
    "local_moment",
    "make_reference",
    "mark_no_show",
    "patient_appointments",
    "policy",
    "portal_change_refusal",
    "reschedule_appointment",
    "save_appointment_type",
    "save_resource",
    "save_service",
]

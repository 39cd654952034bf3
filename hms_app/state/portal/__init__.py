"""The patient portal's screens: the patient's record (/portal), sign-up, booking, appointments,
bills and results, one module each."""

from hms_app.state.portal.record import PortalState

__all__ = ["PortalState"]

"""The staff scheduling screens: the calendar with its side panel and booking dialog (/schedule),
the no-show rates (/schedule/stats) and the set-up (/schedule/setup), one module per screen.

The pages import what they bind to from here.
"""

from hms_app.state.scheduling.appointment_panel import SeriesLine, SlotLine
from hms_app.state.scheduling.booking_dialog import BookingState, PatientPick
from hms_app.state.scheduling.calendar import ScheduleState
from hms_app.state.scheduling.common import ANY, KIND_LABELS, STATUS_COLORS, STATUS_LABELS, Option
from hms_app.state.scheduling.layout import GRID_MINUTES, PX_PER_MINUTE, Band, Block, Cell, Column, HourMark
from hms_app.state.scheduling.no_shows import NoShowState, RateLine
from hms_app.state.scheduling.setup import (
    WEEKDAYS,
    ExceptionLine,
    ResourceLine,
    RuleLine,
    ScheduleSetupState,
    ServiceLine,
    TypeLine,
)

__all__ = [
    "ANY",
    "GRID_MINUTES",
    "KIND_LABELS",
    "PX_PER_MINUTE",
    "STATUS_COLORS",
    "STATUS_LABELS",
    "WEEKDAYS",
    "Band",
    "Block",
    "BookingState",
    "Cell",
    "Column",
    "ExceptionLine",
    "HourMark",
    "NoShowState",
    "Option",
    "PatientPick",
    "RateLine",
    "ResourceLine",
    "RuleLine",
    "ScheduleSetupState",
    "ScheduleState",
    "SeriesLine",
    "ServiceLine",
    "SlotLine",
    "TypeLine",
]

"""Home measurements (telehealth): patients enter them in the portal, staff see them beyond each
patient's alert limits on a live board (/home-readings), and the chart shows them marked
patient-reported. One module per concern: entry, views (lists and trends), alerts, limits."""

from hms_app.services.home_readings.alerts import AlertBoard, AlertLine, alert_board, clear_alert
from hms_app.services.home_readings.common import LIVE_TOPIC, PORTAL, REVIEW, ReadingLine
from hms_app.services.home_readings.entry import RecordedReading, record_home_reading
from hms_app.services.home_readings.limits import LimitLine, patient_limits, set_limits
from hms_app.services.home_readings.views import HomePoint, ReadingsPage, home_series, readings_page

__all__ = [
    "LIVE_TOPIC",
    "PORTAL",
    "REVIEW",
    "AlertBoard",
    "AlertLine",
    "HomePoint",
    "LimitLine",
    "ReadingLine",
    "ReadingsPage",
    "RecordedReading",
    "alert_board",
    "clear_alert",
    "home_series",
    "patient_limits",
    "readings_page",
    "record_home_reading",
    "set_limits",
]

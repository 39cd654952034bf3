"""Video visits (telehealth): the patient's waiting room, admission from the flow board, the call's
signalling relay between the two browsers, and ending the visit (completed, charged, note kept).

Nothing of the media passes through or stays on the server: it flows between the browsers.
"""

from hms_app.services.video_visits.access import MISSING, Seat, ice_servers_for, seat_for
from hms_app.services.video_visits.queue import video_queue
from hms_app.services.video_visits.signals import (
    MAX_MESSAGE_BYTES,
    Channel,
    channel_open,
    close_channel,
    open_channel,
    post_signal,
    purge_signals,
    signals_after,
)
from hms_app.services.video_visits.visits import (
    CallScreen,
    QueueEntry,
    VisitState,
    admit_patient,
    call_screen,
    end_visit,
    enter_waiting_room,
    visit_state,
    visits_topic,
)

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MISSING",
    "CallScreen",
    "Channel",
    "QueueEntry",
    "Seat",
    "VisitState",
    "admit_patient",
    "call_screen",
    "channel_open",
    "close_channel",
    "end_visit",
    "ice_servers_for",
    "enter_waiting_room",
    "open_channel",
    "post_signal",
    "purge_signals",
    "seat_for",
    "signals_after",
    "video_measures",
    "video_queue",
    "visit_state",
    "visits_topic",
]

from hms_app.services.video_visits.measures import video_measures  # noqa: E402

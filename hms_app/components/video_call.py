"""The video call of a video visit: WebRTC between the two browsers, wrapped as a Reflex component.

The React side is ``assets/video_call.jsx``. ``mode="preview"`` is the device check (camera preview,
microphone level meter, device choice); ``mode="call"`` with ``active`` joins the call through the
visit's signalling channel (``/api/video/{visit_id}/signal``). One component serves both, so the
camera opened in the waiting room carries into the call. It only draws in the browser.
"""

from __future__ import annotations

import reflex as rx


class VideoCall(rx.NoSSRComponent):
    """The patient's or the clinician's side of one video visit."""

    library = "$/public/video_call.jsx"
    tag = "VideoCall"

    visit_id: rx.Var[int]
    side: rx.Var[str]  # patient | clinician
    ice: rx.Var[str]  # the ICE servers, a JSON list (settings: HMS_ICE_SERVERS)
    mode: rx.Var[str]  # preview | call
    active: rx.Var[bool]


video_call = VideoCall.create

"""The live boards, one module per screen; importing this package registers their routes: the
ward bed board (/wards), the clinic flow board (/boards/flow) and the waiting-room screen
(/boards/waiting). Drawing only."""

from hms_app.pages.boards import bed_board, flow_board, waiting_room

__all__ = ["bed_board", "flow_board", "waiting_room"]

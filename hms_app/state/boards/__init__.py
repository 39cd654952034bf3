"""The live boards, one module per screen: the ward bed board (/wards), the clinic flow board
(/boards/flow) and the waiting-room screen (/boards/waiting); ``common`` holds the read they
share when a change notice wakes them."""

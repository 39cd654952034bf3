"""A browser tab on the patient chart for the chart's state tests: the state tree Reflex would hold
for it, signed in with a real session, and its handlers run as Reflex runs them."""

from __future__ import annotations

import inspect

import reflex as rx
from reflex_base import constants

from hms_app import db as hms_db
from hms_app.services import security
from hms_app.state.chart.page import ChartState


class Tab:
    """One browser tab on a patient's chart: its state tree, signed in as ``username``."""

    def __init__(self, pid: int | str, username: str, password: str):
        path = f"/patients/{pid}"
        self.root = rx.State()
        self.root._update_router_vars(
            {
                constants.RouteVar.PATH: path,
                constants.RouteVar.ORIGIN: path,
                constants.RouteVar.QUERY: {"patient_id": str(pid)},
                constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
                constants.RouteVar.CLIENT_IP: "10.1.2.3",
            },
            {},
        )
        self.chart = self[ChartState]
        with hms_db.session_scope() as s:
            self.chart.auth_token = security.sign_in(s, username=username, password=password).token

    def __getitem__(self, cls):
        return self.root.get_substate(cls.get_full_name().split(".")[1:])

    async def call(self, cls, name: str, *args) -> list:
        """Run one handler of ``cls`` as Reflex would; return what it produced, flattened."""
        state = self[cls]
        fn = type(state).event_handlers[name].fn
        if inspect.isasyncgenfunction(fn):
            produced = [item async for item in fn(state, *args)]
        else:
            produced = [await fn(state, *args)]
        flat: list = []

        def walk(item):
            if isinstance(item, (list, tuple)):
                for inner in item:
                    walk(inner)
            elif item is not None:
                flat.append(item)

        walk(produced)
        return flat

    def sent(self) -> set[str]:
        """The states whose vars the last events changed (what Reflex would send), then forget them."""
        delta = self.root.get_delta()
        self.root._clean()
        return {name.rsplit(".", 1)[-1] for name, changed in delta.items() if changed}

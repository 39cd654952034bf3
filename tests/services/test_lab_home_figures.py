"""The lab technician's home cards (STAT work open, results to verify, critical results open),
checked against a recount of the rows; other roles do not get them."""

from __future__ import annotations

from sqlalchemy import func, select

from hms_app.models.laboratory import CriticalAlert, LabOrder
from hms_app.services import home
from hms_app.services.laboratory.results import enter_result
from tests.services.lab_world import build_lab_world, received_order


def _cards(session, actor) -> dict[str, int]:
    return {f.key: f.value for f in home.home_figures(session, actor=actor)}


def test_the_lab_cards_match_a_recount_and_only_the_lab_sees_them(session):
    world = build_lab_world(session)
    stat_potassium, _ = received_order(session, world, world.man, "2823-3", priority="stat")
    received_order(session, world, world.woman, "2823-3", priority="stat")
    routine, _ = received_order(session, world, world.child, "718-7")
    assert _cards(session, world.tech)["lab_stat_open"] == 2
    enter_result(session, actor=world.tech, order_id=stat_potassium, value="6.9")  # critical: HH
    enter_result(session, actor=world.tech, order_id=routine, value="12.0")
    cards = _cards(session, world.tech)
    stat_open = session.execute(
        select(func.count()).where(
            LabOrder.priority == "stat", LabOrder.status.in_(("collected", "received"))
        )
    ).scalar_one()
    resulted = session.execute(select(func.count()).where(LabOrder.status == "resulted")).scalar_one()
    critical = session.execute(select(func.count()).where(CriticalAlert.status == "open")).scalar_one()
    assert (cards["lab_stat_open"], cards["lab_to_verify"], cards["lab_critical_open"]) == (1, 2, 1)
    assert (stat_open, resulted, critical) == (1, 2, 1)
    assert not {"lab_stat_open", "lab_to_verify"} & set(_cards(session, world.receptionist))

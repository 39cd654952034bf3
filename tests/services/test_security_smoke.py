from hms_app.services import security
from hms_app.services.audit import verify_chain
from hms_app.services.permissions import SYSTEM_ACTOR


def test_sign_in_creates_a_session_that_resolves_to_the_user(session):
    security.ensure_roles(session)
    security.create_user(session, actor=SYSTEM_ACTOR, username="nina", display_name="Nina Nurse",
                         password="Ward-round-42", roles=["nurse"])
    result = security.sign_in(session, username="nina", password="Ward-round-42")
    actor = security.resolve_session(session, token=result.token)
    assert actor is not None and actor.username == "nina" and actor.roles == {"nurse"}
    assert "emr.write" in actor.permissions and "user.manage" not in actor.permissions
    assert verify_chain(session).ok

"""DICOMweb (PS3.18) for the viewer, checked with a DICOMweb client (``dicomweb-client``): the
searches, an instance, frames and metadata come back as a standard client reads them; the audit
trail has one row per study opened; and who is refused: no session, a role without
``imaging.read``, a portal patient, malformed and traversing UIDs, unknown UIDs."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import requests
from argon2 import PasswordHasher
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from requests.structures import CaseInsensitiveDict
from sqlalchemy import select
from starlette.testclient import TestClient

from hms_app.api.routes import SESSION_COOKIE, build_api
from hms_app.errors import NotFound, Withheld
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.services.radiology import dicomweb
from hms_app.services.radiology.common import dicom_root
from tests.services.radiology_images import a_patient, ct_study, demo_study

PASSWORD = "Ward-round-42"
BASE = "http://testserver/api/dicomweb"
CT, MR, RGB, CINE, RLE = range(5)  # demo_study's series


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def client(configured_db):
    with TestClient(build_api()) as test_client:
        yield test_client


def _token(session, role: str, *, patient_id: int | None = None) -> str:
    accounts.ensure_roles(session)
    username = f"{role.replace('_', '-')}.{patient_id or 'staff'}"
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=role.title(),
        password=PASSWORD,
        roles=[role],
        patient_id=patient_id,
    )
    return security.sign_in(session, username=username, password=PASSWORD).token


class _ToStarlette(requests.adapters.BaseAdapter):
    """Sends a requests session's calls to the ASGI app under test (no network, no port)."""

    def __init__(self, client: TestClient):
        super().__init__()
        self.client = client

    def send(self, request, **_kwargs):
        answer = self.client.request(
            request.method, request.url, headers=dict(request.headers), content=request.body
        )
        response = requests.Response()
        response.status_code, response.url, response.request = answer.status_code, request.url, request
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = io.BytesIO(answer.content)
        return response

    def close(self):
        pass


def _dicomweb(client: TestClient, token: str) -> DICOMwebClient:
    session = requests.Session()
    session.mount("http://testserver", _ToStarlette(client))
    session.headers["cookie"] = f"{SESSION_COOKIE}={token}"
    return DICOMwebClient(url=BASE, session=session)


def _stored(study, series: int, instance: int = 0) -> pydicom.Dataset:
    path = (
        dicom_root() / study.study_uid / study.series_uids[series] / f"{study.sop_uids[series][instance]}.dcm"
    )
    return pydicom.dcmread(path)


def _opens(session) -> list[tuple[str, int | None, str | None]]:
    session.expire_all()
    rows = session.execute(select(AuditEvent).where(AuditEvent.action == dicomweb.OPEN)).scalars()
    return [(r.username, r.patient_id, r.target_id) for r in rows]


def test_a_dicomweb_client_searches_studies_series_and_instances(client, session):
    patient_id = a_patient(session)
    study = demo_study(session, patient_id=patient_id)
    ct_study(session, patient_id=a_patient(session, given="Otto", family="Other"), slices=2, size=32)
    web = _dicomweb(client, _token(session, "radiologist"))

    everything = web.search_for_studies()
    assert len(everything) == 2
    mrn = Dataset.from_json(everything[0]).PatientID
    found = [Dataset.from_json(s) for s in web.search_for_studies(search_filters={"PatientID": mrn})]
    assert len(found) == 1
    mine = [
        Dataset.from_json(s)
        for s in web.search_for_studies(search_filters={"StudyInstanceUID": study.study_uid})
    ]
    assert [(d.StudyInstanceUID, d.PatientName.family_name) for d in mine] == [(study.study_uid, "Imaging")]
    assert (mine[0].NumberOfStudyRelatedSeries, mine[0].NumberOfStudyRelatedInstances) == (5, 5)
    assert set(mine[0].ModalitiesInStudy) == {"CT", "MR", "US"}

    series = [Dataset.from_json(s) for s in web.search_for_series(study.study_uid)]
    assert [s.SeriesInstanceUID for s in series] == list(study.series_uids)
    assert [(s.Modality, s.SeriesNumber) for s in series][:2] == [("CT", 1), ("MR", 2)]

    instances = [
        Dataset.from_json(i) for i in web.search_for_instances(study.study_uid, study.series_uids[CINE])
    ]
    assert [(i.SOPInstanceUID, i.NumberOfFrames, i.Rows) for i in instances] == [
        (study.sop_uids[CINE][0], 12, 96)
    ]


def test_an_instance_comes_back_as_the_stored_file(client, session):
    study = demo_study(session, patient_id=a_patient(session))
    web = _dicomweb(client, _token(session, "physician"))
    got = web.retrieve_instance(study.study_uid, study.series_uids[CT], study.sop_uids[CT][0])
    stored = _stored(study, CT)
    assert got.SOPInstanceUID == stored.SOPInstanceUID
    assert np.array_equal(got.pixel_array, stored.pixel_array)

    cookie = {"cookie": f"{SESSION_COOKIE}={_token(session, 'nurse')}"}
    url = f"/api/dicomweb/studies/{study.study_uid}/series/{study.series_uids[CT]}/instances/{study.sop_uids[CT][0]}"
    single = client.get(url, headers={**cookie, "accept": "application/dicom"})
    assert single.headers["content-type"] == "application/dicom"
    assert "no-store" in single.headers["cache-control"]
    assert pydicom.dcmread(io.BytesIO(single.content)).SOPInstanceUID == stored.SOPInstanceUID
    assert client.get(url, headers={**cookie, "accept": "image/png"}).status_code == 406


def test_frames_are_the_native_pixel_bytes_and_compressed_files_are_decoded(client, session):
    study = demo_study(session, patient_id=a_patient(session))
    web = _dicomweb(client, _token(session, "radiologist"))
    for series in (CT, MR, RGB):
        (frame,) = web.retrieve_instance_frames(
            study.study_uid, study.series_uids[series], study.sop_uids[series][0], [1]
        )
        assert frame == _stored(study, series).PixelData, series

    cine = _stored(study, CINE).pixel_array
    frames = web.retrieve_instance_frames(
        study.study_uid, study.series_uids[CINE], study.sop_uids[CINE][0], [2, 12]
    )
    assert [np.frombuffer(f, dtype=np.uint8).reshape(96, 96).tolist() for f in frames] == [
        cine[1].tolist(),
        cine[11].tolist(),
    ]

    # RLE on disk: decoded for a client that asks for raw pixels, sent as stored to one that takes RLE.
    rle = _stored(study, RLE)
    ids = (study.study_uid, study.series_uids[RLE], study.sop_uids[RLE][0])
    (decoded,) = web.retrieve_instance_frames(*ids, [1])
    assert np.array_equal(np.frombuffer(decoded, dtype="<i2").reshape(64, 64), rle.pixel_array)
    (stored,) = web.retrieve_instance_frames(
        *ids, [1], media_types=(("image/dicom-rle", "1.2.840.10008.1.2.5"),)
    )
    assert stored == next(pydicom.encaps.generate_frames(rle.PixelData, number_of_frames=1))


def test_a_single_frame_for_the_viewer_and_frame_numbers_checked(client, session):
    study = ct_study(session, patient_id=a_patient(session), slices=3, size=64)
    cookie = {"cookie": f"{SESSION_COOKIE}={_token(session, 'radiographer')}"}
    url = f"/api/dicomweb/studies/{study.study_uid}/series/{study.series_uids[0]}/instances/{study.sop_uids[0][1]}"
    raw = client.get(f"{url}/frames/1", headers={**cookie, "accept": "application/octet-stream"})
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    hu = (
        np.frombuffer(raw.content, dtype="<i2").reshape(64, 64).astype(int) - 1024
    )  # slope 1, intercept -1024
    assert hu[0, 0] == -1000 and hu[32, 32] == 40  # air in the corner, soft tissue in the middle
    assert client.get(f"{url}/frames/2", headers=cookie).status_code == 404
    assert client.get(f"{url}/frames/0", headers=cookie).status_code == 404
    assert client.get(f"{url}/frames/1,x", headers=cookie).status_code == 400
    assert client.get(f"{url}/frames/1", headers={**cookie, "accept": "text/html"}).status_code == 406


def test_metadata_is_dicom_json_with_the_pixel_data_as_a_bulk_data_link(client, session):
    study = ct_study(session, patient_id=a_patient(session), slices=3, size=64)
    web = _dicomweb(client, _token(session, "radiologist"))
    metadata = web.retrieve_series_metadata(study.study_uid, study.series_uids[0])
    datasets = [Dataset.from_json(m, bulk_data_uri_handler=lambda _tag, _vr, _uri: b"") for m in metadata]
    assert [d.SOPInstanceUID for d in datasets] == list(study.sop_uids[0])
    assert (datasets[0].RescaleIntercept, datasets[0].Rows, datasets[0].Modality) == (-1024, 64, "CT")
    assert metadata[0]["7FE00010"]["BulkDataURI"].endswith(f"/instances/{study.sop_uids[0][0]}/frames/1")
    assert metadata[0]["00083002"]["Value"] == ["1.2.840.10008.1.2.1"]
    assert len(web.retrieve_study_metadata(study.study_uid)) == 3
    one = web.retrieve_instance_metadata(study.study_uid, study.series_uids[0], study.sop_uids[0][2])
    assert one["00200013"]["Value"] == [3]


def test_a_series_thumbnail_is_a_small_png(client, session):
    study = demo_study(session, patient_id=a_patient(session))
    cookie = {"cookie": f"{SESSION_COOKIE}={_token(session, 'physician')}"}
    from PIL import Image

    for series in (CT, RGB, CINE, RLE):
        answer = client.get(
            f"/api/dicomweb/studies/{study.study_uid}/series/{study.series_uids[series]}/thumbnail",
            headers=cookie,
        )
        assert answer.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(answer.content))
        assert max(image.size) <= 128 and image.mode == ("RGB" if series == RGB else "L")


def test_one_audit_row_per_study_opened_not_per_frame(client, session):
    study = ct_study(session, patient_id=a_patient(session), slices=5, size=32)
    other = ct_study(session, patient_id=a_patient(session, given="Otto"), slices=1, size=32, seed="other")
    token = _token(session, "radiologist")
    web = _dicomweb(client, token)
    web.search_for_series(study.study_uid)
    web.retrieve_series_metadata(study.study_uid, study.series_uids[0])
    for sop in study.sop_uids[0]:
        web.retrieve_instance_frames(study.study_uid, study.series_uids[0], sop, [1])
    web.retrieve_instance_frames(other.study_uid, other.series_uids[0], other.sop_uids[0][0], [1])
    assert sorted(_opens(session)) == sorted(
        [
            ("radiologist.staff", study.patient_id, str(study.id)),
            ("radiologist.staff", other.patient_id, str(other.id)),
        ]
    )
    session.commit()
    # Another user opening the same study is another row.
    _dicomweb(client, _token(session, "nurse")).search_for_series(study.study_uid)
    assert ("nurse.staff", study.patient_id, str(study.id)) in _opens(session)


def _all_urls(study) -> list[str]:
    s, se, i = study.study_uid, study.series_uids[0], study.sop_uids[0][0]
    return [
        "/api/dicomweb/studies",
        f"/api/dicomweb/studies/{s}/series",
        f"/api/dicomweb/studies/{s}/metadata",
        f"/api/dicomweb/studies/{s}/series/{se}/instances",
        f"/api/dicomweb/studies/{s}/series/{se}/metadata",
        f"/api/dicomweb/studies/{s}/series/{se}/thumbnail",
        f"/api/dicomweb/studies/{s}/series/{se}/instances/{i}",
        f"/api/dicomweb/studies/{s}/series/{se}/instances/{i}/metadata",
        f"/api/dicomweb/studies/{s}/series/{se}/instances/{i}/frames/1",
    ]


def test_without_a_session_nothing_is_served(client, session):
    study = ct_study(session, patient_id=a_patient(session), slices=1, size=32)
    for url in _all_urls(study):
        for headers in ({}, {"cookie": f"{SESSION_COOKIE}=forged-token"}):
            answer = client.get(url, headers=headers)
            assert answer.status_code == 401, url
            assert study.study_uid not in answer.text and b"DICM" not in answer.content


def test_a_role_without_imaging_read_is_refused_and_audited(client, session):
    study = ct_study(session, patient_id=a_patient(session), slices=1, size=32)
    cookie = {"cookie": f"{SESSION_COOKIE}={_token(session, 'billing_clerk')}"}
    for url in _all_urls(study):
        assert client.get(url, headers=cookie).status_code == 403, url
    session.expire_all()
    denied = session.execute(select(AuditEvent).where(AuditEvent.action == "access.denied")).scalars().all()
    assert len(denied) == len(_all_urls(study)) and all("imaging.read" in d.detail for d in denied)
    assert _opens(session) == []


def test_a_portal_patient_gets_no_images_of_their_own_or_anyone_elses(client, session):
    own = ct_study(session, patient_id=a_patient(session), slices=1, size=32)
    other = ct_study(session, patient_id=a_patient(session, given="Otto"), slices=1, size=32, seed="other")
    cookie = {"cookie": f"{SESSION_COOKIE}={_token(session, 'patient', patient_id=own.patient_id)}"}
    for url in _all_urls(own) + _all_urls(other):
        answer = client.get(url, headers=cookie)
        assert answer.status_code == 403, url
        assert other.study_uid not in answer.text and b"DICM" not in answer.content
    assert _opens(session) == []


def test_a_portal_actor_holding_imaging_read_is_told_another_patients_study_does_not_exist(session):
    # Defence in depth: were the portal role ever granted imaging.read, the service still keeps a
    # patient to their own studies, and answers another's exactly as an unknown UID.
    own = ct_study(session, patient_id=a_patient(session), slices=1, size=32)
    other = ct_study(session, patient_id=a_patient(session, given="Otto"), slices=1, size=32, seed="other")
    portal = Actor(
        user_id=99, username="p", permissions=frozenset({"imaging.read"}), patient_id=own.patient_id
    )
    assert len(dicomweb.search_series(session, actor=portal, study_uid=own.study_uid)) == 1
    with pytest.raises(Withheld) as withheld:
        dicomweb.search_series(session, actor=portal, study_uid=other.study_uid)
    with pytest.raises(NotFound) as unknown:
        dicomweb.search_series(session, actor=portal, study_uid="1.2.3.4")
    assert str(withheld.value) == str(unknown.value)
    searched = dicomweb.search_studies(session, actor=portal, filters={})
    assert [s["0020000D"]["Value"][0] for s in searched] == [own.study_uid]


@pytest.mark.parametrize(
    "uid",
    ["abc", "1..2", "1.2.3a", ".1.2", "1.2.", "1" * 65, "1.2;3", "1.2%203"],
)
def test_a_malformed_uid_is_400(client, session, uid):
    study = ct_study(session, patient_id=a_patient(session), slices=1, size=32)
    cookie = {"cookie": f"{SESSION_COOKIE}={_token(session, 'radiologist')}"}
    s, se, i = study.study_uid, study.series_uids[0], study.sop_uids[0][0]
    for url in (
        f"/api/dicomweb/studies/{uid}/series",
        f"/api/dicomweb/studies/{s}/series/{uid}/instances",
        f"/api/dicomweb/studies/{s}/series/{se}/instances/{uid}/frames/1",
        f"/api/dicomweb/studies?StudyInstanceUID={uid}",
    ):
        answer = client.get(url, headers=cookie)
        assert answer.status_code == 400, url
        assert answer.json() == {"error": "That is not a DICOM UID."}
    assert (
        client.get(f"/api/dicomweb/studies/{s}/series/{se}/instances/{i}", headers=cookie).status_code == 200
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/dicomweb/studies/..%2F..%2F..%2Fetc%2Fpasswd/series",
        "/api/dicomweb/studies/%2e%2e/series",
        "/api/dicomweb/studies/{s}/series/{se}/instances/..%2F{i}/frames/1",
        "/api/dicomweb/studies/{s}/series/{se}/instances/%2e%2e%2f%2e%2e%2fhms.db",
        "/api/dicomweb/studies/{s}/series/{se}/../../../../hms.db",
    ],
)
def test_path_traversal_in_a_uid_reaches_no_file(client, session, path):
    study = ct_study(session, patient_id=a_patient(session), slices=1, size=32)
    (dicom_root().parent / "hms.db").write_bytes(b"SECRET")
    cookie = {"cookie": f"{SESSION_COOKIE}={_token(session, 'radiologist')}"}
    url = path.format(s=study.study_uid, se=study.series_uids[0], i=study.sop_uids[0][0])
    answer = client.get(url, headers=cookie)
    assert answer.status_code in (400, 404), url
    assert b"SECRET" not in answer.content and b"root:" not in answer.content


def test_unknown_uids_are_404_and_say_no_more(client, session):
    study = ct_study(session, patient_id=a_patient(session), slices=1, size=32)
    other = ct_study(session, patient_id=a_patient(session, given="Otto"), slices=1, size=32, seed="other")
    cookie = {"cookie": f"{SESSION_COOKIE}={_token(session, 'radiologist')}"}
    s, se, i = study.study_uid, study.series_uids[0], study.sop_uids[0][0]
    cases = {
        "/api/dicomweb/studies/1.2.3.999/series": "That study does not exist.",
        f"/api/dicomweb/studies/{s}/series/1.2.3.999/instances": "That series does not exist.",
        # Another study's series and instance under this study's UID: not found, not served.
        f"/api/dicomweb/studies/{s}/series/{other.series_uids[0]}/metadata": "That series does not exist.",
        f"/api/dicomweb/studies/{s}/series/{se}/instances/{other.sop_uids[0][0]}": "That instance does not exist.",
        f"/api/dicomweb/studies/{s}/series/{se}/instances/{i[:-1]}{'2' if i[-1] == '1' else '1'}/frames/1": "That instance does not exist.",
    }
    for url, message in cases.items():
        answer = client.get(url, headers=cookie)
        assert (answer.status_code, answer.json()) == (404, {"error": message}), url

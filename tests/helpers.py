"""Small builders shared by tests (real data in, no fakes of the engine)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import av
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.governance.watchlist_policy import SubjectProvenance
from retroface.services import App
from retroface.services.access.users import add_user, bootstrap_admin
from retroface.services.cases.manage import authorise_case, open_case
from retroface.services.deployment.calibrations import register_calibration
from retroface.services.evaluation.calibrate import calibrate
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.enrol_plan import plan_enrollment
from retroface.services.galleries.manage import create_gallery
from retroface.services.live.deployments import LiveDeploymentOut, create_live_deployment
from tests.conftest import ADMIN, SUPERVISOR

PASSWORD = "correct horse battery staple"


def authorised_case(app: App, reference: str = "CASE-1", days: int = 7) -> str:
    open_case(
        app,
        reference,
        purpose="test investigation",
        lawful_basis="law-enforcement",
        offence="robbery",
        seriousness="indictable-only",
    )
    authorise_case(app.acting_as(SUPERVISOR), reference, until=app.now() + timedelta(days=days))
    return reference


def provenance(record: str, **changes: object) -> SubjectProvenance:
    """A complete, valid watchlist provenance record for tests."""
    values: dict[str, object] = {
        "category": "suspect",
        "source_system": "custody-test",
        "record_id": record,
        "holding_basis": "custody-image",
    }
    values.update(changes)
    return SubjectProvenance(**values)  # type: ignore[arg-type]


def provenances(paths: list[Path]) -> dict[str, SubjectProvenance]:
    """Provenance for every subject a folder enrollment of ``paths`` would create."""
    return {i.subject: provenance(f"REC-{i.subject}") for i in plan_enrollment(paths)}


def write_provenance_csv(path: Path, folders: list[Path]) -> Path:
    """A provenance CSV (as the CLI's ``--provenance`` reads) for a folder enrollment."""
    rows = ["subject,category,source_system,record_id,holding_basis"]
    rows += [
        f"{name},suspect,custody-test,REC-{name},custody-image" for name in provenances(folders)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def gallery_with(app: App, name: str, people: dict[str, list[Path]]) -> str:
    supervisor = app.acting_as(SUPERVISOR)
    create_gallery(supervisor, name)
    for subject, files in people.items():
        enroll(supervisor, name, files, subject=subject, provenance=provenance(f"REC-{subject}"))
    return name


def arcface_style_onnx_model(path: Path, size: int = 112, dimension: int = 512) -> Path:
    """A stand-in with ArcFace's interface: (N, 3, 112, 112) float in, 512 floats out."""
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((3 * size * size, dimension)).astype(np.float32) / 100
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "w"], ["embedding"]),
        ],
        "arcface_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dimension])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # what the pinned ONNX Runtime reads
    path.write_bytes(model.SerializeToString())
    return path


TEST_SIGNING_KEY = b"retroface-test-signing-key-0001"


def att_subset(data: Path, root: Path, people: int, images: int) -> Path:
    """A folder-per-identity tree of the first AT&T people and images (symlinks)."""
    for person in range(1, people + 1):
        folder = root / f"s{person}"
        folder.mkdir(parents=True)
        for image in range(1, images + 1):
            (folder / f"{image}.pgm").symlink_to(data / "att_faces" / f"s{person}" / f"{image}.pgm")
    return root


def raw_h264_stream(clip: Path, path: Path, frames: int) -> Path:
    """The clip's first ``frames`` coded frames as an Annex B elementary stream (what a DVR
    exports: no container, no timestamps), remuxed without re-encoding."""
    with av.open(str(clip)) as src, av.open(str(path), "w", format="h264") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        copied = 0
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
            copied += 1
            if copied == frames:
                break
    return path


def lfw_subset(data: Path, root: Path, people: int) -> Path:
    """The first ``people`` LFW identities with two or more photos, two photos each."""
    lfw = data / "lfw"
    names = sorted(p.name for p in lfw.iterdir() if len(list(p.glob("*.jpg"))) >= 2)[:people]
    for name in names:
        (root / name).mkdir(parents=True)
        for image in sorted((lfw / name).glob("*.jpg"))[:2]:
            (root / name / image.name).symlink_to(image)
    return root


def register_measurement_calibration(app: App, data: Path, tmp_path: Path) -> None:
    """Register a real calibration that accepts any false-positive rate (target FPIR 1).

    For tests that measure behaviour below the shipped threshold (an evaluation
    deployment): governance refuses such a floor unless a signed record says
    the deployment accepted that rate.
    """
    tree = att_subset(data, tmp_path / "calibration-set", people=8, images=2)
    key_file = tmp_path / "signing.key"
    key_file.write_bytes(TEST_SIGNING_KEY)
    record = calibrate(
        app.acting_as(ADMIN), tree, target_fpir=1.0, key=TEST_SIGNING_KEY, open_set=False
    )
    register_calibration(app.acting_as(ADMIN), record, key_file)


def live_deployment(app: App, deployment_id: str, watchlist: str) -> LiveDeploymentOut:
    """A live deployment authorised by ``app``'s principal for the hour around now."""
    now = app.now()
    return create_live_deployment(
        app,
        deployment_id,
        purpose="locate a wanted person",
        location="theatre entrance, camera 2",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
        watchlist=watchlist,
        public_notice="Live facial recognition is in use in this area.",
    )


def register_users(app: App, users: dict[Principal, str]) -> None:
    """Real user accounts (for the CLI, which logs in), created by a bootstrapped admin."""
    bootstrap_admin(app, ADMIN.username, PASSWORD)
    admin = app.acting_as(ADMIN)
    for principal, password in users.items():
        trained = app.now().date() if principal.role is Role.REVIEWER else None
        add_user(admin, principal.username, principal.role, password, training_completed_on=trained)

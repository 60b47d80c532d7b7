"""Doctor: rows that lost their place — faces, templates, sightings and links left by an interrupted write or an erasure."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import aliased

from retroface.services.app import App
from retroface.services.biometrics.deletion import purge_subject_data
from retroface.services.galleries.versions import bump_version
from retroface.services.operations.doctor.findings import (
    Finding,
    Repair,
    make_finding,
    record_repair,
)
from retroface.store.models import (
    Authorisation,
    Candidate,
    Face,
    FaceCluster,
    Gallery,
    GalleryChange,
    ReferenceImage,
    Search,
    Sighting,
    Subject,
    Template,
    VideoSegment,
)


def orphan_faces(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Faces with no media item and no reference image, that no candidate or sighting uses."""
    with app.unit_of_work() as uow:
        ids = list(
            uow.session.scalars(
                select(Face.id)
                .where(
                    Face.media_item_id.is_(None),
                    Face.reference_image_id.is_(None),
                    ~select(Candidate.id).where(Candidate.face_id == Face.id).exists(),
                    ~select(Sighting.id).where(Sighting.face_id == Face.id).exists(),
                )
                .order_by(Face.id)
            )
        )

    def fix() -> int:
        with app.unit_of_work() as uow:
            templates = uow.session.execute(delete(Template).where(Template.face_id.in_(ids)))
            uow.session.execute(delete(Face).where(Face.id.in_(ids)))
            record_repair(
                uow,
                app,
                "orphan-faces",
                len(ids),
                face_ids=ids[:100],
                templates_deleted=int(templates.rowcount or 0),  # type: ignore[attr-defined]
            )
            uow.commit()
        return len(ids)

    finding = make_finding(
        "orphan-faces",
        [f"face {i}" for i in ids],
        ok="every face belongs to a media item or a reference image",
        found="{n} face(s) belong to no media item or reference image and are used nowhere",
        repair="delete them and their templates (biometric data nothing can reach)",
    )
    return finding, fix if ids else None


def template_gallery_mismatch(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Gallery templates whose recorded gallery is not their subject's (search goes by subject)."""
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Template.id, Subject.gallery_id)
            .join(Subject, Template.subject_id == Subject.id)
            .where(or_(Template.gallery_id.is_(None), Template.gallery_id != Subject.gallery_id))
            .order_by(Template.id)
        ).all()
    fixes = [(tid, gid) for tid, gid in rows]

    def fix() -> int:
        with app.unit_of_work() as uow:
            for template_id, gallery_id in fixes:
                uow.session.execute(
                    update(Template).where(Template.id == template_id).values(gallery_id=gallery_id)
                )
            record_repair(
                uow,
                app,
                "template-gallery-mismatch",
                len(fixes),
                template_ids=[t for t, _ in fixes][:100],
            )
            uow.commit()
        return len(fixes)

    finding = make_finding(
        "template-gallery-mismatch",
        [f"template {t}" for t, _ in fixes],
        ok="every gallery template records its subject's gallery",
        found="{n} gallery template(s) record a gallery other than their subject's",
        repair="set each template's gallery to its subject's",
    )
    return finding, fix if fixes else None


def erased_subject_biometrics(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """An erased person must keep no image, face or template (erasure is final)."""
    with app.unit_of_work() as uow:
        ids = sorted(
            set(
                uow.session.scalars(
                    select(Subject.id)
                    .join(ReferenceImage, ReferenceImage.subject_id == Subject.id)
                    .where(Subject.erased_at.is_not(None))
                )
            )
            | set(
                uow.session.scalars(
                    select(Subject.id)
                    .join(Template, Template.subject_id == Subject.id)
                    .where(Subject.erased_at.is_not(None))
                )
            )
        )

    def fix() -> int:
        with app.unit_of_work() as uow:
            totals: dict[str, int] = {}
            for subject in uow.session.scalars(select(Subject).where(Subject.id.in_(ids))):
                was_listed = subject.removed_at is None
                for key, value in purge_subject_data(uow, subject, app).items():
                    totals[key] = totals.get(key, 0) + value
                if was_listed:  # it was still searchable: a membership change
                    gallery = uow.session.get(Gallery, subject.gallery_id)
                    assert gallery is not None
                    bump_version(uow, gallery, app.actor, "subject-erased", subject.id)
            record_repair(
                uow, app, "erased-subject-biometrics", len(ids), subject_ids=ids, **totals
            )
            uow.commit()
        return len(ids)

    finding = make_finding(
        "erased-subject-biometrics",
        [f"subject {i}" for i in ids],
        ok="erased subjects hold no images, faces or templates",
        found="{n} erased subject(s) still hold images, faces or templates",
        repair="delete them, as the erasure should have",
    )
    return finding, fix if ids else None


def segment_sighting_counts(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Each finished video window stored its sightings once: the count it recorded must hold."""
    with app.unit_of_work() as uow:
        stored = (
            select(func.count(Sighting.id))
            .where(Sighting.segment_id == VideoSegment.id)
            .scalar_subquery()
        )
        rows = uow.session.execute(
            select(VideoSegment.id, VideoSegment.sightings, stored)
            .where(VideoSegment.sightings != stored)
            .order_by(VideoSegment.id)
        ).all()
    return make_finding(
        "segment-sighting-counts",
        [f"segment {sid}: recorded {want}, stored {got}" for sid, want, got in rows],
        ok="every video segment holds the sightings it recorded (none lost, none twice)",
        found="{n} video segment(s) hold a different number of sightings than they recorded",
        repair="none: rows were changed outside retroface; restore a backup or re-ingest",
    ), None


def sighting_cluster_links(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    with app.unit_of_work() as uow:
        ids = list(
            uow.session.scalars(
                select(Sighting.id)
                .where(
                    Sighting.cluster_id.is_not(None),
                    ~select(FaceCluster.id).where(FaceCluster.id == Sighting.cluster_id).exists(),
                )
                .order_by(Sighting.id)
            )
        )

    def fix() -> int:
        with app.unit_of_work() as uow:
            uow.session.execute(
                update(Sighting).where(Sighting.id.in_(ids)).values(cluster_id=None)
            )
            record_repair(uow, app, "sighting-cluster-links", len(ids), sighting_ids=ids[:100])
            uow.commit()
        return len(ids)

    finding = make_finding(
        "sighting-cluster-links",
        [f"sighting {i}" for i in ids],
        ok="every clustered sighting's cluster exists",
        found="{n} sighting(s) point to a cluster that does not exist",
        repair="unlink them (they count as not clustered; 'video cluster' groups them again)",
    )
    return finding, fix if ids else None


def dangling_record_links(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Links the schema does not enforce and that records (not repairs) must explain."""
    with app.unit_of_work() as uow:
        searches = uow.session.scalars(
            select(Search.id).where(
                Search.authorisation_id.is_not(None),
                ~select(Authorisation.id)
                .where(Authorisation.id == Search.authorisation_id)
                .exists(),
            )
        ).all()
        changes = uow.session.scalars(
            select(GalleryChange.id).where(
                GalleryChange.subject_id.is_not(None),
                ~select(Subject.id).where(Subject.id == GalleryChange.subject_id).exists(),
            )
        ).all()
        target = aliased(FaceCluster)
        merged = uow.session.scalars(
            select(FaceCluster.id).where(
                FaceCluster.merged_into.is_not(None),
                ~select(target.id).where(target.id == FaceCluster.merged_into).exists(),
            )
        ).all()
    problems = (
        [f"search {s}: authorisation missing" for s in searches]
        + [f"gallery change {c}: subject missing" for c in changes]
        + [f"cluster {c}: merged into a missing cluster" for c in merged]
    )
    return make_finding(
        "dangling-record-links",
        problems,
        ok="searches, gallery changes and merged clusters point to rows that exist",
        found="{n} record(s) point to a row that no longer exists",
        repair="none: these rows are the record of what happened; restore a backup",
    ), None

"""Who appears in several clips? Cluster a case's sightings, let people correct the groups.

Clustering proposes; people decide. A merge or a split is a person's
judgement and is recorded as such (a new cluster row for a split, the
merged cluster kept with ``merged_into``), audited with the ids moved. A
re-run of clustering starts afresh and is audited too. Contact sheets (face
crops) are biometric images, so they are written only inside the data
directory and their writing is audited (the path, never the pixels).
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import select, update

from retroface.errors import InvalidInputError, NotFoundError, RetrofaceError
from retroface.faces.clustering import DEFAULT_MIN_SIMILARITY, cluster_templates
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.biometrics.face_views import face_image
from retroface.services.biometrics.sealed_files import write_protected_file
from retroface.services.biometrics.sighting_templates import case_video_media, sighting_vectors
from retroface.services.biometrics.uploaded_files import readable_upload
from retroface.services.results import ClusterMember, ClusterOut, ClusterReport
from retroface.store.data_protection import DataCipher
from retroface.store.models import Case, FaceCluster, MediaItem, Sighting
from retroface.store.unit_of_work import UnitOfWork

SHEET_TILE = 160
SHEET_COLUMNS = 6
SHEET_MAX_TILES = 36


def cluster_case(
    app: App, case_reference: str, min_similarity: float = DEFAULT_MIN_SIMILARITY
) -> ClusterReport:
    app.require(Action.VIDEO_CLUSTER, case_reference=case_reference)
    if not 0.5 <= min_similarity < 1.0:
        raise InvalidInputError(f"--min-similarity must be in [0.5, 1), got {min_similarity}")
    with app.unit_of_work() as uow:
        case = uow.cases.require(case_reference)
        rows = sighting_vectors(uow, case_video_media(uow, case.id, None), app.engine.model.name)
        if not rows:
            raise InvalidInputError(
                f"case {case_reference} has no sightings; run 'retroface video ingest' first"
            )
        labels = cluster_templates(np.stack([r[3] for r in rows]), min_similarity)
        uow.session.execute(
            update(Sighting).where(Sighting.id.in_([r[0].id for r in rows])).values(cluster_id=None)
        )
        clusters: dict[int, FaceCluster] = {}
        for label in sorted(set(labels)):
            clusters[label] = FaceCluster(
                case_id=case.id,
                origin={"method": "chinese-whispers", "min_similarity": min_similarity},
                created_by=app.actor,
            )
            uow.session.add(clusters[label])
        uow.flush()
        for (sighting, *_), label in zip(rows, labels, strict=True):
            sighting.cluster_id = clusters[label].id
        app.audit(
            uow,
            action="clusters.computed",
            object_type="case",
            object_id=case.id,
            case_reference=case_reference,
            min_similarity=min_similarity,
            sightings=len(rows),
            clusters=len(clusters),
        )
        uow.commit()
        return _report(uow, case)


def list_clusters(app: App, case_reference: str) -> ClusterReport:
    app.require(Action.VIDEO_CLUSTER, case_reference=case_reference)
    with app.unit_of_work() as uow:
        return _report(uow, uow.cases.require(case_reference))


def merge_clusters(app: App, case_reference: str, into: int, other: int) -> ClusterReport:
    """A person judges two clusters to be one person: ``other``'s sightings join ``into``."""
    app.require(Action.VIDEO_CLUSTER, case_reference=case_reference)
    if into == other:
        raise InvalidInputError("name two different clusters to merge")
    with app.unit_of_work() as uow:
        case = uow.cases.require(case_reference)
        target, source = _cluster(uow, case, into), _cluster(uow, case, other)
        moved = list(uow.session.scalars(select(Sighting.id).where(Sighting.cluster_id == other)))
        uow.session.execute(
            update(Sighting).where(Sighting.cluster_id == other).values(cluster_id=target.id)
        )
        source.merged_into = target.id
        app.audit(
            uow,
            action="clusters.merged",
            object_type="face_cluster",
            object_id=target.id,
            case_reference=case_reference,
            merged=source.id,
            sightings=moved,
        )
        uow.commit()
        return _report(uow, case)


def split_cluster(
    app: App, case_reference: str, cluster_id: int, sighting_ids: list[int]
) -> ClusterReport:
    """A person judges some sightings of a cluster to be someone else: they form a new one."""
    app.require(Action.VIDEO_CLUSTER, case_reference=case_reference)
    wanted = sorted(set(sighting_ids))
    if not wanted:
        raise InvalidInputError("name the sightings to split off (--sighting, repeatable)")
    with app.unit_of_work() as uow:
        case = uow.cases.require(case_reference)
        cluster = _cluster(uow, case, cluster_id)
        members = set(
            uow.session.scalars(select(Sighting.id).where(Sighting.cluster_id == cluster.id))
        )
        strangers = [s for s in wanted if s not in members]
        if strangers:
            raise InvalidInputError(
                f"sighting(s) {', '.join(map(str, strangers))} are not in cluster {cluster_id}"
            )
        if len(wanted) == len(members):
            raise InvalidInputError("a split must leave at least one sighting in the cluster")
        new = FaceCluster(case_id=case.id, origin={"split_from": cluster.id}, created_by=app.actor)
        uow.session.add(new)
        uow.flush()
        uow.session.execute(
            update(Sighting).where(Sighting.id.in_(wanted)).values(cluster_id=new.id)
        )
        app.audit(
            uow,
            action="clusters.split",
            object_type="face_cluster",
            object_id=cluster.id,
            case_reference=case_reference,
            new_cluster=new.id,
            sightings=wanted,
        )
        uow.commit()
        return _report(uow, case)


def contact_sheet(app: App, case_reference: str, cluster_id: int) -> Path:
    """A PNG grid of the cluster's best views, each labelled with file and time (sealed where
    the data directory is encrypted: it is a sheet of face crops)."""
    app.require(Action.VIDEO_CLUSTER, case_reference=case_reference)
    with app.unit_of_work() as uow:
        case = uow.cases.require(case_reference)
        _cluster(uow, case, cluster_id)
        rows = uow.session.execute(
            select(Sighting, MediaItem)
            .join(MediaItem, Sighting.media_item_id == MediaItem.id)
            .where(Sighting.cluster_id == cluster_id)
            .order_by(MediaItem.id, Sighting.first_s)
        ).all()
        views = [
            (sighting.id, media.source_path, view)
            for sighting, media in rows
            for view in sighting.exemplars[:2]
        ][:SHEET_MAX_TILES]
        tiles = [_tile(uow.cipher, Path(source), view, sid) for sid, source, view in views]
        sheet = _grid([t for t in tiles if t is not None])
        folder = app.settings.home / "exports" / "contact-sheets"
        folder.mkdir(parents=True, exist_ok=True)
        # Named by the cluster's id, never by the case reference (file names show in
        # listings and backups); the audit event ties the sheet to its case.
        path = folder / f"cluster-{cluster_id}-contact-sheet.png"
        png = io.BytesIO()
        sheet.save(png, format="PNG")
        write_protected_file(uow.cipher, app.settings.home, path, png.getvalue())
        app.audit(
            uow,
            action="cluster.contact_sheet_written",
            object_type="face_cluster",
            object_id=cluster_id,
            case_reference=case_reference,
            path=str(path),
            tiles=len(tiles),
        )
        uow.commit()
    return path


def _tile(cipher: DataCipher, source: Path, view: dict, sighting_id: int) -> Image.Image | None:  # type: ignore[type-arg]
    """One exemplar's face, labelled with its sighting id (what a person merges, splits and
    reviews by), file and time (a file gone or broken: none)."""
    when = float(view["time_s"])
    try:
        with readable_upload(cipher, source) as readable:
            face = face_image(
                readable,
                tuple(view["box"]),  # type: ignore[arg-type]
                when,
                view.get("frame"),
            )
    except (RetrofaceError, OSError):
        return None
    tile = face.resize((SHEET_TILE, SHEET_TILE))
    label = f"#{sighting_id} {source.name[:12]} {when:.1f}s"
    draw = ImageDraw.Draw(tile)
    draw.rectangle((0, SHEET_TILE - 14, SHEET_TILE, SHEET_TILE), fill=(0, 0, 0))
    draw.text((3, SHEET_TILE - 13), label, fill=(255, 255, 255))
    return tile


def _grid(tiles: list[Image.Image]) -> Image.Image:
    columns = max(1, min(SHEET_COLUMNS, len(tiles)))
    rows = max(1, -(-len(tiles) // columns))
    sheet = Image.new("RGB", (columns * SHEET_TILE, rows * SHEET_TILE), (40, 40, 40))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * SHEET_TILE, (i // columns) * SHEET_TILE))
    return sheet


def _cluster(uow: UnitOfWork, case: Case, cluster_id: int) -> FaceCluster:
    cluster = uow.session.get(FaceCluster, cluster_id)
    if cluster is None or cluster.case_id != case.id:
        raise NotFoundError(f"case {case.reference} has no cluster {cluster_id}")
    if cluster.merged_into is not None:
        raise InvalidInputError(f"cluster {cluster_id} was merged into {cluster.merged_into}")
    return cluster


def _report(uow: UnitOfWork, case: Case) -> ClusterReport:
    rows = uow.session.execute(
        select(Sighting, MediaItem)
        .join(MediaItem, Sighting.media_item_id == MediaItem.id)
        .where(MediaItem.case_id == case.id, Sighting.cluster_id.is_not(None))
        .order_by(Sighting.cluster_id, MediaItem.id, Sighting.first_s)
    ).all()
    grouped: dict[int, list[ClusterMember]] = defaultdict(list)
    files: dict[int, set[int]] = defaultdict(set)
    for sighting, media in rows:
        assert sighting.cluster_id is not None
        grouped[sighting.cluster_id].append(
            ClusterMember(
                sighting_id=sighting.id,
                source=media.source_path,
                first_s=round(sighting.first_s, 3),
                last_s=round(sighting.last_s, 3),
            )
        )
        files[sighting.cluster_id].add(media.id)
    clusters = [
        ClusterOut(cluster_id=cid, sightings=members, files=len(files[cid]))
        for cid, members in grouped.items()
    ]
    clusters.sort(key=lambda c: (-c.files, -len(c.sightings), c.cluster_id))
    return ClusterReport(case=case.reference, clusters=clusters)

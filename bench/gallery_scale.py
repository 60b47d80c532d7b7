"""Force-scale gallery: a million subjects through the store, the index, the service and the API.

What it does, in a fresh temporary data directory (nothing is written anywhere else;
with ``--database-url`` a scratch PostgreSQL database is created and dropped):

1. sets the installation up through the CLI (admin, DPIA, policy, supervisor,
   operator, gallery);
2. embeds real LFW photos with the installation's own engine: for ``--people``
   people with two or more photos, the first photo is the person's gallery
   template, the second the *mated query* (its template for the service, the photo
   itself for the API);
3. fills the gallery to ``--subjects`` with the BENCH-ONLY bulk import
   (``services/galleries/bench_import.py``: real rows, audited, one transaction
   per 20,000 subjects, then the gallery index built through the real
   ``load_gallery_index``): the real LFW templates plus synthetic distractors
   drawn from a Gaussian mixture fitted to real LFW templates (``bench/index.py``);
4. service search with a pre-computed probe template, as the search service runs
   it: ``start_search`` (every gate, the search row, its audit event), the index
   and ``rank_subjects``, ``finish_search``; p50/p99 of the whole and of the
   index-and-ranking part, and how often the mate is rank 1;
5. starts the real server (``retroface serve``) and searches through the REST API
   by uploading one real LFW photo (a mated query), polling the job: p50/p99, and
   the split: face analysis of the same photo timed on its own in this process
   with the same engine, the rest being the search, the database and HTTP;
6. enrols one more person (a real LFW photo, through the real enrolment service,
   in this process) and removes one, and times until the *server* (another process,
   holding the index in memory) finds the new person and no longer finds the removed
   one;
7. prints the server's RSS, and the database and index sizes on disk.

The machine is shared and has two cores: latencies are noisy (say so when quoting).

    python bench/gallery_scale.py [--subjects 1000000] [--database-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import index as index_bench
from load import free_port, memory_mb
from retroface.faces import FaceEngine, analyse_files
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.governance.watchlist_policy import SubjectProvenance
from retroface.index import AnyIndex
from retroface.media import load_image
from retroface.services import App, open_app
from retroface.services.biometrics.gallery_index import load_gallery_index
from retroface.services.deployment.calibrations import open_set_model
from retroface.services.galleries.bench_import import bench_import_templates
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.manage import remove_subject
from retroface.services.search.gate import check_search_allowed, finish_search, start_search
from retroface.services.search.ranking import RankedSubject, rank_subjects
from retroface.settings import Settings
from retroface.store.models import Subject

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PASSWORD = "scale-test-password-1"
ADMIN, SUPERVISOR, OPERATOR = "scale-admin", "scale-sup", "scale-op"
GALLERY, CASE = "custody", "SCALE-1"
#: The gallery size the service search p50 is extrapolated to (not run: memory, time).
EXTRAPOLATE_TO = 10_000_000
PROVENANCE = SubjectProvenance("suspect", "bench-synthetic", "BENCH", "custody-image")


def cli(home: Path, url: str | None, *args: str | Path, user: str | None = None, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RETROFACE_")}
    full |= {"RETROFACE_HOME": str(home), "RETROFACE_PASSWORD": PASSWORD, **env}
    if url:
        full["RETROFACE_DATABASE_URL"] = url
    if user:
        full["RETROFACE_USER"] = user
    done = subprocess.run(
        [sys.executable, "-m", "retroface.cli.main", *map(str, args)],
        env=full, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"retroface {' '.join(map(str, args[:3]))} failed:\n{done.stderr}")
    return done.stdout


def set_up(home: Path, url: str | None, subjects: int) -> None:
    today = date.today()
    cli(home, url, "init", "--admin", ADMIN)
    for name, role in ((SUPERVISOR, "supervisor"), (OPERATOR, "operator")):
        cli(home, url, "user", "add", name, "--role", role, user=ADMIN,
            RETROFACE_NEW_PASSWORD=PASSWORD)  # fmt: skip
    cli(home, url, "deployment", "dpia", "--id", "DPIA-SCALE", "--version", "1",
        "--approved", str(today - timedelta(days=1)),
        "--review-due", str(today + timedelta(days=365)), user=ADMIN)  # fmt: skip
    cli(home, url, "deployment", "policy", "https://example.org/face-search-policy", user=ADMIN)
    cli(home, url, "gallery", "create", GALLERY, "--description", "scale bench",
        "--max-subjects", str(subjects + 10), user=SUPERVISOR)  # fmt: skip


def open_case(home: Path, url: str | None, searches: int) -> None:
    cli(home, url, "case", "open", CASE, "--purpose", "scale bench of the search service",
        "--basis", "law-enforcement", "--offence", "robbery", "--seriousness", "indictable-only",
        user=OPERATOR)  # fmt: skip
    cli(home, url, "case", "authorise", CASE, "--until", str(date.today() + timedelta(days=30)),
        "--gallery", GALLERY, "--max-searches", str(searches), user=SUPERVISOR)  # fmt: skip


def lfw_people(data: Path, people: int) -> list[tuple[str, list[Path]]]:
    """People with three or more photos (gallery, query, a spare), in name order."""
    found = []
    for folder in sorted(p for p in (data / "lfw").iterdir() if p.is_dir()):
        photos = sorted(folder.glob("*.jpg"))
        if len(photos) >= 3:
            found.append((folder.name, photos[:3]))
    return found[:people]


def centre_template(result: Any) -> np.ndarray | None:
    if not result.faces:
        return None
    face = min(
        result.faces,
        key=lambda f: (
            abs(f.detection.box.x + f.detection.box.w / 2 - 125)
            + abs(f.detection.box.y + f.detection.box.h / 2 - 125)
        ),
    )
    return np.asarray(face.embedding, dtype=np.float32)


def percentiles(values: list[float]) -> str:
    ms = np.asarray(values) * 1000
    return f"p50_ms={np.percentile(ms, 50):.1f} p99_ms={np.percentile(ms, 99):.1f} n={len(ms)}"


def scratch_database(url: str) -> tuple[str, str]:
    """A fresh database on the server ``url`` names: (its URL, its name)."""
    name = f"retroface_scale_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}", name


def drop_scratch(url: str, name: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def database_mb(settings: Settings) -> float:
    url = settings.url
    if url.startswith("sqlite"):
        db = settings.sqlite_path
        files = [db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal"))]
        return sum(p.stat().st_size for p in files if p.exists()) / 2**20
    engine = create_engine(url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return float(size) / 2**20


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def service_searches(operator: App, queries: np.ndarray, mates: list[int]) -> None:
    """Search pre-computed probe templates through the search service's own steps."""
    whole, ranking, rank1, over_bar = [], [], 0, 0
    with operator.unit_of_work() as uow:
        model = open_set_model(uow, operator.engine.model.tag)
    for query, mate in zip(queries, mates, strict=True):
        started = time.perf_counter()
        search_id, threshold, _ = start_search(operator, CASE, GALLERY, None, 10, {})
        ranked_at = time.perf_counter()
        index, found = index_and_rank(operator, query, threshold)
        ranking.append(time.perf_counter() - ranked_at)
        finish_search(operator, search_id, CASE, 1, len(found), [])
        whole.append(time.perf_counter() - started)
        rank1 += bool(found) and found[0].subject_id == mate
        bar = threshold
        if model is not None:  # what a real search's decision rule would ask of this probe
            bar = model.bar(query, target_fpir=operator.settings.target_fpir,
                            comparisons=len(index), floor=threshold).threshold  # fmt: skip
        over_bar += bool(found) and found[0].subject_id == mate and found[0].score >= bar
    print(f"service_search {percentiles(whole)}", flush=True)
    print(f"service_search_index_and_ranking {percentiles(ranking)}", flush=True)
    print(f"service_search_mate_rank1={rank1 / len(mates):.3f} at the floor {threshold}; "
          f"{over_bar / len(mates):.3f} over the bar a search sets at this size "
          f"({bar:.4f}, target FPIR {operator.settings.target_fpir:g})", flush=True)  # fmt: skip
    extrapolate(whole, ranking, len(index), index.config, EXTRAPOLATE_TO)


def index_and_rank(
    operator: App, query: np.ndarray, threshold: float
) -> tuple[AnyIndex, list[RankedSubject]]:
    """The search service's middle step: the gallery's index, and its top 10 subjects."""
    with operator.unit_of_work() as uow:
        gallery = uow.galleries.require(GALLERY)
        index = load_gallery_index(uow, operator.settings.index_dir, gallery,
                                   operator.engine.model, operator.settings.index_exact_max)  # fmt: skip
        found = rank_subjects(index, query, uow.templates.subjects_of,
                              max_candidates=10, threshold=threshold)  # fmt: skip
    return index, found


def extrapolate(whole: list[float], ranking: list[float], n: int, config: str, target: int) -> None:
    """Service search p50 at ``target`` templates, from this run's parts: the part outside
    the index (gates, search row, audit, version check) is set by the database's indexed
    look-ups, not the gallery's size, so it is kept as measured; the index part is scaled
    by the codes a query reads. With about √n IVF lists and the same ``nprobe`` a query
    reads nprobe·n/nlist ∝ √n codes (x√(target/n)); exact search reads all (x target/n).
    A lower bound where ``nprobe`` must grow to keep recall (bench/index.py tuned 128 lists
    at 1M, 512 at 10M, and measured the IVF index alone at 10M: use that figure too)."""
    rest = float(np.percentile(whole, 50) - np.percentile(ranking, 50))
    index_ms = float(np.percentile(ranking, 50)) * 1000
    factor = (target / n) ** 0.5 if config.startswith("IVF") else target / n
    print(
        f"extrapolated_service_search_p50_ms_at_{target}={rest * 1000 + index_ms * factor:.1f} "
        f"(measured outside the index {rest * 1000:.1f} ms + index and ranking {index_ms:.1f} ms "
        f"x {factor:.2f}, from {n} templates, {config})",
        flush=True,
    )


def profile_first_search(operator: App, query: np.ndarray, what: str) -> None:
    """Profile (cProfile) this process's first search after a change, gates to finish:
    where a search at a new gallery version spends its time (a version check, reading
    the new delta, counting the gallery, ORM loads), printed as the top functions."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    check_search_allowed(operator, CASE, GALLERY, None, 10)
    search_id, threshold, _ = start_search(operator, CASE, GALLERY, None, 10, {})
    _, found = index_and_rank(operator, query, threshold)
    finish_search(operator, search_id, CASE, 1, len(found), [])
    profiler.disable()
    print(f"first_service_search_after_{what}_s={time.perf_counter() - started:.3f} "
          f"(this process, index held at the previous version; cProfile on)", flush=True)  # fmt: skip
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats("retroface", 16)
    print(
        "\n".join(f"  {line}" for line in out.getvalue().splitlines() if line.strip()), flush=True
    )


def start_server(home: Path, url: str | None, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROFACE_")}
    env["RETROFACE_HOME"] = str(home)
    if url:
        env["RETROFACE_DATABASE_URL"] = url
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "retroface.cli.main", "serve", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json").status_code < 500:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    sys.exit(f"the server did not answer within 180 s:\n{log.read_text()[-3000:]}")


def api_search(client: httpx.Client, photo: Path) -> tuple[list[str], float]:
    """Upload one photo as a search and poll its job: (candidate subjects, seconds)."""
    started = time.perf_counter()
    response = client.post(
        f"/api/v1/cases/{CASE}/searches",
        # LFW centres the person named: the face nearest the centre is the one searched
        data={
            "gallery": GALLERY,
            "source_type": "cctv",
            "supplied_by": "scale bench",
            "box": "80,80,90,90",
        },
        files=[("files", (photo.name, photo.read_bytes(), "image/jpeg"))],
    )
    response.raise_for_status()
    job_id = response.json()["id"]
    while True:
        time.sleep(0.02)
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] == "done":
            break
        if job["status"] == "failed":
            sys.exit(f"API search failed: {job.get('error')}")
    elapsed = time.perf_counter() - started
    probes = job["result"]["probes"]
    centre = min(
        probes,
        key=lambda p: (
            (p["box"][0] + p["box"][2] / 2 - 125) ** 2 + (p["box"][1] + p["box"][3] / 2 - 125) ** 2
        ),
        default=None,
    )
    return ([c["subject"] for c in centre["candidates"]] if centre else []), elapsed


def until(
    client: httpx.Client, photo: Path, wanted: Callable[[list[str]], bool], tries: int = 5
) -> tuple[bool, int, float]:
    """Search ``photo`` through the API until its candidates are ``wanted``:
    (whether they were, searches made, seconds of the last)."""
    elapsed = 0.0
    for attempt in range(1, tries + 1):
        candidates, elapsed = api_search(client, photo)
        if wanted(candidates):
            return True, attempt, elapsed
    return False, tries, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=150, help="real LFW people (mates)")
    parser.add_argument("--searches", type=int, default=200, help="service searches")
    parser.add_argument("--api-searches", type=int, default=20)
    parser.add_argument("--database-url", help="a PostgreSQL server URL: a scratch DB on it")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="retroface-scale-"))
    home = work / "data"
    url, scratch = scratch_database(args.database_url) if args.database_url else (None, "")
    server = None
    try:
        print(f"database={'postgresql' if url else 'sqlite'} subjects={args.subjects} "
              f"cores={os.cpu_count()} (a shared machine: latencies are noisy)", flush=True)  # fmt: skip
        set_up(home, url, args.subjects)
        settings = Settings(home=home, **({"database_url": url} if url else {}))
        app = open_app(settings)
        supervisor = app.acting_as(Principal(SUPERVISOR, Role.SUPERVISOR))
        operator = app.acting_as(Principal(OPERATOR, Role.OPERATOR))

        started = time.perf_counter()
        people = lfw_people(args.data, args.people + 6)
        extra, people = people[-6:], people[:-6]  # people enrolled later, one by one
        files = [p for _, photos in people for p in photos[:2]]
        found = {r.path: centre_template(r) for r in analyse_files(
            files, app.engine_spec, app.limits, settings.workers)}  # fmt: skip
        single = [  # enrolment takes a photo with exactly one face
            (name, r.path) for r in analyse_files([e[1][0] for e in extra], app.engine_spec,
                                                  app.limits, settings.workers)
            if len(r.faces) == 1 for name, photos in extra if photos[0] == r.path
        ]  # fmt: skip
        pairs = [(name, found[a], found[b], b, a) for name, (a, b, _) in people
                 if found.get(a) is not None and found.get(b) is not None]  # fmt: skip
        real = np.stack([p[1] for p in pairs])
        print(f"real LFW people: {len(pairs)} ({time.perf_counter() - started:.0f} s to embed "
              f"{len(files)} photos)", flush=True)  # fmt: skip

        fitted_on = np.vstack([real, np.stack([p[2] for p in pairs])])
        index_bench.COMPONENTS = max(4, min(64, len(fitted_on) // 8))  # few people: fewer parts
        mixture = index_bench.fit_mixture(fitted_on, seed=0)
        synthetic = index_bench.distractors(args.subjects - len(pairs), mixture, seed=args.subjects)
        names = [name for name, *_ in pairs] + [f"synthetic-{i:08d}" for i in range(len(synthetic))]
        started = time.perf_counter()
        report = bench_import_templates(
            supervisor, GALLERY, names, np.vstack([real, synthetic]), PROVENANCE,
            progress=lambda n: print(f"  imported {n}", flush=True) if n % 200_000 == 0 else None,
        )  # fmt: skip
        del synthetic
        print(f"bulk_import_s={time.perf_counter() - started:.0f} subjects={report.subjects_created} "
              f"index={report.index_config}", flush=True)  # fmt: skip

        open_case(home, url, args.searches + args.api_searches + 50)
        with app.unit_of_work() as uow:
            gallery = uow.galleries.require(GALLERY)
            rows = uow.session.execute(
                select(Subject.name, Subject.id).where(
                    Subject.gallery_id == gallery.id, Subject.name.in_([p[0] for p in pairs])
                )
            )
            by_name = {str(name): int(sid) for name, sid in rows}
        queries = np.stack([p[2] for p in pairs])
        mates = [by_name[p[0]] for p in pairs]
        reps = (args.searches + len(queries) - 1) // len(queries)
        service_searches(operator, np.tile(queries, (reps, 1))[: args.searches],
                         (mates * reps)[: args.searches])  # fmt: skip

        port = free_port()
        started = time.perf_counter()
        server = start_server(home, url, port, work / "server.log")
        print(f"server_start_s={time.perf_counter() - started:.1f}", flush=True)
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{base}/api/v1/auth/login",
                           json={"username": OPERATOR, "password": PASSWORD}).json()["token"]  # fmt: skip
        client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600
        )
        photos = [p[3] for p in pairs]
        _, first_s = api_search(client, photos[0])  # the server loads model and index
        print(f"api_first_search_s={first_s:.2f} (model and index load)", flush=True)
        latencies, right = [], 0
        for i in range(args.api_searches):
            candidates, elapsed = api_search(client, photos[i % len(photos)])
            latencies.append(elapsed)
            right += bool(candidates) and candidates[0] == pairs[i % len(pairs)][0]
        engine = FaceEngine.from_spec(app.engine_spec)
        analysis = []
        for i in range(min(args.api_searches, 10)):
            pixels = load_image(photos[i % len(photos)]).pixels
            t = time.perf_counter()
            engine.analyse(pixels)
            analysis.append(time.perf_counter() - t)
        print(
            f"api_search {percentiles(latencies)} mate_rank1={right / len(latencies):.2f} "
            "(under the search's own bar)"
        )
        print(f"api_split face_analysis_{percentiles(analysis)} (same photos, same engine, "
              f"timed apart); the rest is gates, index, database, job and HTTP", flush=True)  # fmt: skip
        rss, peak = memory_mb(server.pid)
        print(f"server_rss_mb={rss:.0f} server_peak_rss_mb={peak:.0f}", flush=True)

        for newcomer, enrol_photo in single:  # the first photo the enrolment accepts
            started = time.perf_counter()
            enrolled = enroll(supervisor, GALLERY, [enrol_photo], subject=newcomer,
                              provenance=SubjectProvenance("suspect", "bench", f"LFW-{newcomer}",
                                                           "custody-image"))  # fmt: skip
            enrolled_at = time.perf_counter()
            if enrolled.enrolled == 1:
                break
            print(f"enrolment of {enrol_photo.name} refused: "
                  f"{[e.error for e in enrolled.skipped]}", flush=True)  # fmt: skip
        else:
            sys.exit("no spare LFW photo was accepted for enrolment")
        seen, tries, search_s = until(client, enrol_photo, lambda c: bool(c) and c[0] == newcomer)
        print(f"enrol_one_s={enrolled_at - started:.2f} (service: analysis, commit, delta) "
              f"server_found_it={seen} visible_within_s={time.perf_counter() - enrolled_at:.2f} "
              f"after {tries} API search(es) of the enrolled photo (each {search_s:.2f} s, "
              f"analysis included)", flush=True)  # fmt: skip
        profile_first_search(operator, queries[0], "enrolment")
        removed, removed_photo = pairs[1][0], pairs[1][4]
        started = time.perf_counter()
        remove_subject(supervisor, GALLERY, removed)
        removed_at = time.perf_counter()
        gone, tries, search_s = until(client, removed_photo, lambda c: removed not in c)
        print(f"remove_one_s={removed_at - started:.2f} (commit, tombstone delta) "
              f"server_no_longer_finds_it={gone} gone_within_s={time.perf_counter() - removed_at:.2f} "
              f"after {tries} API search(es) (each {search_s:.2f} s)", flush=True)  # fmt: skip
        profile_first_search(operator, queries[0], "removal")
        with app.unit_of_work() as uow:
            gallery = uow.galleries.require(GALLERY)
            t = time.perf_counter()
            index = load_gallery_index(uow, settings.index_dir, gallery, app.engine.model)
            print(f"service_index_refresh_ms={(time.perf_counter() - t) * 1000:.1f} "
                  f"segments={index.segments_read()}", flush=True)  # fmt: skip
        rss, peak = memory_mb(server.pid)
        print(f"server_rss_mb={rss:.0f} server_peak_rss_mb={peak:.0f} (after the changes)")
        print(f"database_mb={database_mb(settings):.0f} index_mb={folder_mb(settings.index_dir):.0f}",
              flush=True)  # fmt: skip
        app.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if scratch and args.database_url:
            drop_scratch(args.database_url, scratch)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

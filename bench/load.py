"""Loopback load test of the REST API: concurrent clients searching a large gallery.

Why this exists: the server runs every search on one background worker (the
engine already uses the cores), so under load the question is whether
requests queue cleanly (no 5xx, no failed job, no lost result, no SQLite
lock error) and what throughput and tail latency that gives.

What it does, all inside a fresh temporary data directory (RETROFACE_HOME;
``./retroface-data`` is never touched, and nothing biometric is written
anywhere else except, with ``--cache``, the enrolled deployment in the
git-ignored ``bench/.cache``, reused by later runs at the same schema):

1. sets the deployment up through the CLI, as the README does: an admin, a
   DPIA and a policy document, a supervisor and an operator (plus one more
   operator per client, added over the API: the server caps each person's
   queued jobs), a gallery, a
   case opened by the operator and authorised by the supervisor;
2. enrolls a gallery of ``--subjects`` real faces from LFW with the CLI's
   bulk folder enrollment (a process pool over every core). LFW has 13,233
   images of 5,749 people, so to reach 10,000 subjects **each image is
   enrolled as its own subject, named after its file** (``George_W_Bush_0007``):
   the flat folder of symlinks the script builds is the "files named after
   the person" layout. The person is the name without its ``_NNNN`` suffix;
   a search is right at rank 1 when the top candidate is the same person;
3. starts the real server (``retroface serve`` on 127.0.0.1, a free port,
   same data directory), logs the operator in and runs one warm-up search
   (model and index load);
4. runs ``--clients`` threads for ``--duration`` seconds; each repeatedly
   uploads one probe image to ``POST /api/v1/cases/{ref}/searches`` (202, a
   job) and polls ``GET /api/v1/jobs/{id}`` (every ``--poll`` s) until it is
   done; latency is submit to result as the client sees it, and the job's own
   queued-to-finished time is printed beside it. With ``--listers K``, K more
   clients meanwhile list the faces of probe images
   (``POST /api/v1/cases/{ref}/probe-faces``): the server detects those in its
   request threads while the search job detects in its own, the concurrency
   that once crashed a server (one dlib detector entered from two threads). Probes are LFW images never
   enrolled: one held-out image of people who are in the gallery (mated) and
   images of people who are not (non-mated). After the deadline no new
   search starts; searches in flight are finished and count.

Errors are any transport failure, any non-2xx response, any failed or
unfinished job and any result of the wrong shape (keys, case, gallery,
ranks, scores below the threshold, unknown subjects). A probe image in which
the detector finds no face is reported by the server in the result's
``errors``; that is the image, not the server, and is counted separately.

Prints ``key=value`` lines and a summary; exits 1 if there was any error.

    python bench/load.py [--clients 20] [--duration 60] [--subjects 10000] [--keep] [--cache]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import retroface.store
from retroface.services.results import CandidateOut, ProbeOut, SearchReport

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
#: The only place outside the temporary folder where this script may write (git-ignored).
CACHE = Path(__file__).resolve().parent / ".cache"
PASSWORD = "load-test-password-1"
ADMIN, SUPERVISOR, OPERATOR = "load-admin", "load-sup", "load-op"
GALLERY, CASE = "custody", "LOAD-1"
#: Images of people with one photo held back from the gallery: the non-mated probes.
NON_MATED_PEOPLE = 100
#: Mated probes used at most (one held-out image per person); enough variety for 60 s.
MATED_PROBES = 400
#: A result's keys: what the API's models dump (computed fields included).
SEARCH_KEYS = set(SearchReport.model_fields) | set(SearchReport.model_computed_fields)
PROBE_KEYS = set(ProbeOut.model_fields)
CANDIDATE_KEYS = set(CandidateOut.model_fields)
#: LFW's label is the person in the middle of its 250x250 images: the face searched is the
#: one overlapping the middle most, chosen as an investigator would (the API's ``box``).
CENTRE_BOX = "75,75,100,100"
_SUFFIX = re.compile(r"_\d{4}$")


def person_of(subject: str) -> str:
    """``George_W_Bush_0007`` → ``George_W_Bush`` (subjects are named after LFW files)."""
    return _SUFFIX.sub("", subject)


@dataclass(frozen=True)
class Plan:
    """Which LFW images go into the gallery (in order of preference) and which are probes."""

    gallery: list[Path]
    mated: list[Path]
    non_mated: list[Path]


def plan_images(lfw: Path, seed: int) -> Plan:
    """Gallery order: first one image of every person who also has a held-out probe (so small
    galleries still have mates), then people with one photo, then further photos round-robin
    over people (so no one person, e.g. the 530 of George W Bush, fills the gallery)."""
    people = {d.name: sorted(d.glob("*.jpg")) for d in sorted(lfw.iterdir()) if d.is_dir()}
    singles = [name for name, files in people.items() if len(files) == 1]
    multi = [name for name, files in people.items() if len(files) >= 2]
    non_mated_people = set(singles[:: max(1, len(singles) // NON_MATED_PEOPLE)][:NON_MATED_PEOPLE])
    first = [people[name][0] for name in multi]
    rest: list[Path] = []
    for depth in range(1, max(len(f) for f in people.values()) - 1):
        rest.extend(people[name][depth] for name in multi if depth < len(people[name]) - 1)
    lonely = [people[name][0] for name in singles if name not in non_mated_people]
    mated = [people[name][-1] for name in multi]  # the last photo of each person, never enrolled
    rng = random.Random(seed)
    rng.shuffle(mated)
    return Plan(
        gallery=first + lonely + rest,
        mated=mated,
        non_mated=[people[name][0] for name in sorted(non_mated_people)],
    )


def cli(home: Path, *args: str | Path, user: str | None = None, **env: str) -> str:
    """Run one ``retroface`` command on the temporary deployment; its stdout, or exit."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("RETROFACE_")}
    full |= {"RETROFACE_HOME": str(home), "RETROFACE_PASSWORD": PASSWORD} | env
    if user:
        full["RETROFACE_USER"] = user
    done = subprocess.run(
        [sys.executable, "-m", "retroface.cli.main", *map(str, args)],
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"retroface {' '.join(map(str, args[:3]))} failed:\n{done.stderr}")
    return done.stdout


def set_up_deployment(home: Path, subjects: int) -> None:
    """Admin, DPIA, policy, supervisor, operator, gallery, authorised case: the README's steps."""
    today = date.today()
    cli(home, "init", "--admin", ADMIN)
    for name, role in ((SUPERVISOR, "supervisor"), (OPERATOR, "operator")):
        cli(home, "user", "add", name, "--role", role, user=ADMIN, RETROFACE_NEW_PASSWORD=PASSWORD)
    cli(
        home, "deployment", "dpia", "--id", "DPIA-LOAD", "--version", "1",
        "--approved", str(today - timedelta(days=1)),
        "--review-due", str(today + timedelta(days=365)), user=ADMIN,
    )  # fmt: skip
    cli(home, "deployment", "policy", "https://example.org/face-search-policy", user=ADMIN)
    cli(
        home, "gallery", "create", GALLERY, "--description", "load test: LFW, one image a subject",
        "--max-subjects", str(subjects), user=SUPERVISOR,
    )  # fmt: skip


def open_case(home: Path) -> None:
    cli(
        home, "case", "open", CASE, "--purpose", "load test of the search API",
        "--basis", "law-enforcement", "--offence", "robbery", "--seriousness", "indictable-only",
        user=OPERATOR,
    )  # fmt: skip
    cli(
        home, "case", "authorise", CASE, "--until", str(date.today() + timedelta(days=30)),
        "--gallery", GALLERY, user=SUPERVISOR,
    )  # fmt: skip


def enroll(home: Path, work: Path, images: list[Path], subjects: int) -> tuple[set[str], float]:
    """Enroll until ``subjects`` subjects are in (images with no face or several are skipped by
    the service, so a second pass tops up from the next images). Returns the enrolled subject
    names and the seconds spent."""
    enrolled: set[str] = set()
    queue = list(images)
    started = time.perf_counter()
    for attempt in range(4):
        wanted = subjects - len(enrolled)
        if wanted <= 0 or not queue:
            break
        batch, queue = queue[:wanted], queue[wanted:]
        folder = work / f"enroll-{attempt}"  # DIR/<subject>.jpg: one subject per file
        folder.mkdir()
        sheet = work / f"provenance-{attempt}.csv"
        with sheet.open("w", newline="") as out:
            rows = csv.writer(out)
            rows.writerow(["subject", "category", "source_system", "record_id", "holding_basis"])
            for image in batch:
                (folder / image.name).symlink_to(image.resolve())
                rows.writerow(
                    [image.stem, "wanted", "custody", f"LFW-{image.stem}", "custody-image"]
                )
        report = json.loads(
            cli(home, "gallery", "enroll", GALLERY, folder, "--provenance", sheet, "--json",
                user=SUPERVISOR)
        )  # fmt: skip
        skipped = {Path(e["source"]).stem for e in report["skipped"]}
        enrolled |= {image.stem for image in batch} - skipped
        print(
            f"enrolled {report['enrolled']} of {len(batch)} images "
            f"({len(skipped)} skipped: no face or several); {len(enrolled)} subjects",
            flush=True,
        )
    return enrolled, time.perf_counter() - started


def deployment(
    home: Path, work: Path, plan: Plan, subjects: int, seed: int, cache: bool
) -> tuple[set[str], float, bool]:
    """Set up and enroll, or with ``cache`` copy a deployment enrolled by an earlier run.

    Why a cache: enrolling 10,000 faces with the default 10 jitters takes about half an hour
    on two cores, while the load test takes a minute. The cached copy (users, DPIA, policy,
    the enrolled gallery; no case) lives only in the git-ignored ``bench/.cache`` and is
    copied into the fresh temporary data directory; delete it with ``rm -r bench/.cache``.
    """
    saved = CACHE / f"load-{subjects}-seed{seed}-{schema_head()}"
    if cache and (saved / "enrolled.json").is_file():
        shutil.copytree(saved / "data", home, symlinks=True)
        meta = json.loads((saved / "enrolled.json").read_text())
        print(f"deployment copied from {saved} (enrolled there in {meta['enroll_s']:.0f} s)")
        return set(meta["subjects"]), float(meta["enroll_s"]), True
    set_up_deployment(home, subjects)
    enrolled, enroll_s = enroll(home, work, plan.gallery, subjects)
    if cache:
        shutil.rmtree(saved, ignore_errors=True)
        shutil.copytree(home, saved / "data", symlinks=True)
        meta = {"enroll_s": enroll_s, "subjects": sorted(enrolled)}
        (saved / "enrolled.json").write_text(json.dumps(meta))
    return enrolled, enroll_s, False


def schema_head() -> str:
    """The newest migration's file name: a cached database is reused only at the same schema
    (upgrading a populated copy would test the migration, not the server)."""
    versions = Path(retroface.store.__file__).parent / "migrations" / "versions"
    return max(p.stem for p in versions.glob("*.py")).split("_")[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``retroface serve`` as its own process, exactly as deployed (its log in the temp dir)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROFACE_")}
    env["RETROFACE_HOME"] = str(home)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "retroface.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}:\n{log.read_text()}")
        try:
            # Answered at all (401: the API's description is for people logged in).
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json").status_code < 500:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    sys.exit(f"the server did not answer within 120 s:\n{log.read_text()}")


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MB of the server and its child processes, from /proc."""
    rss = peak = 0.0
    for proc in [pid, *children(pid)]:
        try:
            status = Path(f"/proc/{proc}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss += int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
        peak += int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
    return rss, peak


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *children(kid)]
    return found


@dataclass(frozen=True)
class Probe:
    name: str
    person: str
    data: bytes
    mated: bool


@dataclass
class Tally:
    """What the clients saw; one lock, updated once per search."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)  # submit → result seen by the client
    job_s: list[float] = field(default_factory=list)  # the server's queued → finished
    errors: Counter[str] = field(default_factory=Counter)
    polls: int = 0
    mated: int = 0
    mated_rank1: int = 0
    non_mated: int = 0
    non_mated_hits: int = 0
    no_face: int = 0
    last_done: float = 0.0
    listings: int = 0


def check_result(result: Any, gallery: set[str]) -> str | None:
    """Why a job's result is wrong-shaped, or None."""
    if not isinstance(result, dict) or set(result) != SEARCH_KEYS:
        return "result keys"
    if result["case"] != CASE or result["gallery"] != GALLERY:
        return "result case or gallery"
    for probe in result["probes"]:
        if set(probe) != PROBE_KEYS or len(probe["box"]) != 4:
            return "probe keys"
        candidates = probe["candidates"]
        if [c.get("rank") for c in candidates] != list(range(1, len(candidates) + 1)):
            return "candidate ranks"
        for c in candidates:
            if set(c) != CANDIDATE_KEYS or c["subject"] not in gallery:
                return "candidate keys or unknown subject"
            if c["score"] < (probe["bar"] or result["threshold"]) - 1e-4:
                return "candidate below its probe's bar"
        scores = [c["score"] for c in candidates]
        if scores != sorted(scores, reverse=True):
            return "candidates out of order"
    for error in result["errors"]:
        if not str(error.get("error", "")).endswith("no face found"):
            return f"file error: {error.get('error')}"
    return None


def run_search(
    client: httpx.Client, probe: Probe, poll_s: float, job_timeout_s: float
) -> tuple[dict[str, Any], float] | str:
    """Submit one search and poll it to the end: (job, client latency) or what went wrong."""
    started = time.perf_counter()
    response = client.post(
        f"/api/v1/cases/{CASE}/searches",
        data={
            "gallery": GALLERY,
            "source_type": "cctv",
            "supplied_by": "load test",
            "box": CENTRE_BOX,
        },
        files=[("files", (probe.name, probe.data, "image/jpeg"))],
    )
    if response.status_code != 202:
        return f"POST searches: HTTP {response.status_code}"
    job_id = response.json()["id"]
    polls = 0
    while True:
        time.sleep(poll_s)
        polls += 1
        response = client.get(f"/api/v1/jobs/{job_id}")
        if response.status_code != 200:
            return f"GET jobs: HTTP {response.status_code}"
        job = response.json()
        if job["status"] == "done":
            job["polls"] = polls
            return job, time.perf_counter() - started
        if job["status"] == "failed":
            return f"job failed: {job.get('error')}"
        if time.perf_counter() - started > job_timeout_s:
            return f"job not done after {job_timeout_s:.0f} s"


def turns(
    base: str, token: str, probes: list[Probe], offset: int, deadline: float
) -> Iterator[tuple[httpx.Client, Probe]]:
    """A logged-in client's turns until the deadline, each with the next probe (in order,
    from ``offset``, so that clients do not all send the same photo at once)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120.0) as client:
        turn = offset
        while time.monotonic() < deadline:
            yield client, probes[turn % len(probes)]
            turn += 1


def client_loop(
    base: str,
    token: str,
    probes: list[Probe],
    offset: int,
    deadline: float,
    gallery: set[str],
    tally: Tally,
    poll_s: float,
) -> None:
    """One client: search, check, repeat until the deadline (its last search is finished)."""
    for client, probe in turns(base, token, probes, offset, deadline):
        try:
            outcome = run_search(client, probe, poll_s, job_timeout_s=600.0)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        if isinstance(outcome, str):
            with tally.lock:
                tally.errors[outcome] += 1
            time.sleep(0.5)
            continue
        job, latency = outcome
        result = job["result"]
        problem = check_result(result, gallery)
        face = result["probes"][0] if problem is None and result["probes"] else None
        with tally.lock:
            tally.polls += job["polls"]
            if problem is not None:
                tally.errors[problem] += 1
                continue
            tally.latencies.append(latency)
            tally.last_done = time.monotonic()
            if job.get("finished_at") and job.get("submitted_at"):
                queued = datetime.fromisoformat(job["submitted_at"])
                finished = datetime.fromisoformat(job["finished_at"])
                tally.job_s.append((finished - queued).total_seconds())
            if face is None:
                tally.no_face += 1
                continue
            top = face["candidates"][0]["subject"] if face["candidates"] else None
            if probe.mated:
                tally.mated += 1
                tally.mated_rank1 += top is not None and person_of(top) == probe.person
            else:
                tally.non_mated += 1
                tally.non_mated_hits += top is not None


def lister_loop(
    base: str, token: str, probes: list[Probe], offset: int, deadline: float, tally: Tally
) -> None:
    """One client listing probe images' faces until the deadline: detection in the server's
    request threads while search jobs detect in theirs."""
    for client, probe in turns(base, token, probes, offset, deadline):
        try:
            response = client.post(
                f"/api/v1/cases/{CASE}/probe-faces",
                files=[("files", (probe.name, probe.data, "image/jpeg"))],
            )
            problem = None
            if response.status_code != 200:
                problem = f"POST probe-faces: HTTP {response.status_code}"
            elif not isinstance(response.json().get("faces"), list):
                problem = "probe-faces: no list of faces"
        except (httpx.HTTPError, ValueError) as exc:
            problem = f"probe-faces {type(exc).__name__}: {exc}"
        with tally.lock:
            if problem is None:
                tally.listings += 1
            else:
                tally.errors[problem] += 1
        if problem is not None:
            time.sleep(0.5)


def log_in(base: str, username: str = OPERATOR) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    )
    response.raise_for_status()
    return str(response.json()["token"])


def officers_logged_in(base: str, clients: int) -> list[str]:
    """One operator per client, as in a force (the server caps each person's queued jobs):
    the first is the case's operator, the others are added by the admin over the API and to
    the case's team by the supervisor (need to know)."""
    admin = {"Authorization": f"Bearer {log_in(base, ADMIN)}"}
    supervisor = {"Authorization": f"Bearer {log_in(base, SUPERVISOR)}"}
    tokens = [log_in(base)]
    for number in range(2, clients + 1):
        name = f"{OPERATOR}-{number}"
        added = httpx.post(
            f"{base}/api/v1/users",
            json={"username": name, "password": PASSWORD, "role": "operator"},
            headers=admin,
        )
        if added.status_code not in (201, 409):  # 409: a cached deployment already has them
            sys.exit(f"adding {name} failed: {added.status_code} {added.text}")
        assigned = httpx.post(
            f"{base}/api/v1/cases/{CASE}/team", json={"username": name}, headers=supervisor
        )
        if assigned.status_code != 200:
            sys.exit(f"adding {name} to the case failed: {assigned.status_code} {assigned.text}")
        tokens.append(log_in(base, name))
    return tokens


def load_probes(plan: Plan, enrolled: set[str], seed: int) -> list[Probe]:
    """Mated probes of people with an enrolled image, then the non-mated ones, shuffled."""
    people = {person_of(s) for s in enrolled}
    mated = [p for p in plan.mated if p.parent.name in people][:MATED_PROBES]
    chosen = [(p, True) for p in mated] + [(p, False) for p in plan.non_mated]
    random.Random(seed).shuffle(chosen)
    return [Probe(p.name, p.parent.name, p.read_bytes(), m) for p, m in chosen]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Each LFW image is enrolled as its own subject, named after its file.",
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of searching")
    parser.add_argument("--subjects", type=int, default=10_000, help="gallery size")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between job polls")
    parser.add_argument(
        "--listers",
        type=int,
        default=0,
        help="clients listing probe faces meanwhile (detection in the request threads)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary data directory to inspect it"
    )
    parser.add_argument(
        "--cache",
        action="store_true",
        help=f"reuse (or save) the enrolled deployment under {CACHE}: it holds face templates",
    )
    args = parser.parse_args()

    plan = plan_images(args.data / "lfw", args.seed)
    if args.subjects > len(plan.gallery):
        sys.exit(f"--subjects: LFW allows at most {len(plan.gallery)} here")
    work = Path(tempfile.mkdtemp(prefix="retroface-load-"))
    home = work / "data"
    server: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        enrolled, enroll_s, reused = deployment(
            home, work, plan, args.subjects, args.seed, args.cache
        )
        open_case(home)
        setup_s = time.perf_counter() - started
        print(
            f"deployment ready in {setup_s:.0f} s: {len(enrolled)} subjects enrolled in "
            f"{enroll_s:.0f} s ({len(enrolled) / enroll_s:.1f}/s)",
            flush=True,
        )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(home, port, work / "server.log")
        tokens = officers_logged_in(base, args.clients + args.listers)
        token = tokens[0]
        probes = load_probes(plan, enrolled, args.seed)
        warm_start = time.perf_counter()  # loads the models and the gallery index
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300.0
        ) as client:
            first = run_search(client, probes[0], 0.05, job_timeout_s=300.0)
        if isinstance(first, str):
            sys.exit(f"the warm-up search failed: {first}")
        first_s = time.perf_counter() - warm_start
        rss_before, _ = memory_mb(server.pid)

        tally = Tally()
        begin = time.monotonic()
        deadline = begin + args.duration
        threads = [
            threading.Thread(
                target=client_loop,
                args=(base, tokens[i], probes, i * len(probes) // args.clients, deadline),
                kwargs={"gallery": enrolled, "tally": tally, "poll_s": args.poll},
                daemon=True,
            )
            for i in range(args.clients)
        ] + [
            threading.Thread(
                target=lister_loop,
                args=(base, tokens[args.clients + i], probes, i * 7, deadline, tally),
                daemon=True,
            )
            for i in range(args.listers)
        ]
        for thread in threads:
            thread.start()
        threads[0].join(timeout=args.duration / 2)
        rss_mid, _ = memory_mb(server.pid)  # with the end figure: growing, or levelling off?
        for thread in threads:
            thread.join()
        wall = (tally.last_done or time.monotonic()) - begin
        if server.poll() is not None:
            tally.errors[f"server exited with code {server.returncode}"] += 1
        rss, peak = memory_mb(server.pid)
        log_text = (work / "server.log").read_text(errors="replace")
        tracebacks = log_text.count("Traceback")
        if tracebacks:
            tally.errors["server log: Traceback"] += tracebacks
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    done = len(tally.latencies)
    errors = sum(tally.errors.values())
    figures = {
        "clients": args.clients,
        "duration_s": f"{args.duration:.0f}",
        "subjects": len(enrolled),
        "enroll_s": f"{enroll_s:.0f}",
        "enroll_per_s": f"{len(enrolled) / enroll_s:.1f}",
        "enroll_from_cache": int(reused),
        "first_search_s": f"{first_s:.2f}",
        "searches": done,
        "wall_s": f"{wall:.1f}",
        "throughput_per_s": f"{done / wall:.2f}" if wall > 0 else "nan",
        "p50_s": f"{percentile(tally.latencies, 50):.2f}",
        "p95_s": f"{percentile(tally.latencies, 95):.2f}",
        "p99_s": f"{percentile(tally.latencies, 99):.2f}",
        "max_s": f"{max(tally.latencies, default=float('nan')):.2f}",
        "job_p50_s": f"{percentile(tally.job_s, 50):.2f}",
        "job_p99_s": f"{percentile(tally.job_s, 99):.2f}",
        "polls_per_search": f"{tally.polls / max(done, 1):.1f}",
        "errors": errors,
        "mated_searches": tally.mated,
        "rank1": f"{tally.mated_rank1 / tally.mated:.3f}" if tally.mated else "nan",
        "non_mated_searches": tally.non_mated,
        "non_mated_with_candidate": (
            f"{tally.non_mated_hits / tally.non_mated:.3f}" if tally.non_mated else "nan"
        ),
        "no_face": tally.no_face,
        "listers": args.listers,
        "probe_face_listings": tally.listings,
        "server_rss_mb_before": f"{rss_before:.0f}",
        "server_rss_mb_half_time": f"{rss_mid:.0f}",
        "server_rss_mb": f"{rss:.0f}",
        "server_peak_rss_mb": f"{peak:.0f}",
    }
    for key, value in figures.items():
        print(f"{key}={value}")
    print(
        f"\n{args.clients} clients, {args.duration:.0f} s against {len(enrolled)} subjects: "
        f"{done} searches in {wall:.1f} s = {figures['throughput_per_s']}/s; latency "
        f"p50 {figures['p50_s']} s, p95 {figures['p95_s']} s, p99 {figures['p99_s']} s, "
        f"max {figures['max_s']} s; {errors} errors; rank-1 {figures['rank1']} of "
        f"{tally.mated} mated; server RSS {rss:.0f} MB (peak {peak:.0f} MB)"
        + (f"; {tally.listings} probe-face listings by {args.listers} more" if args.listers else "")
    )
    for message, count in tally.errors.most_common(10):
        print(f"  error x{count}: {message}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()

"""The command line as a user meets it: real processes, real engine, exit codes and output."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from tests.databases import cli_env
from tests.helpers import PASSWORD, TEST_SIGNING_KEY, att_subset

pytestmark = pytest.mark.needs_data

#: An authorisation end inside the longest window a deployment allows (90 days by default).
UNTIL = (date.today() + timedelta(days=30)).isoformat()
SEARCH_KEYS = {
    "notice",
    "search_id",
    "case",
    "gallery",
    "threshold",
    "model",
    "engine",
    "target_fpir",
    "gallery_templates",
    "probes",
    "errors",
    "candidates_reused",
    "reuse_note",
}
CANDIDATE_KEYS = {"candidate_id", "rank", "subject", "subject_id", "score", "reused"}
PROBE_KEYS = {
    "source",
    "frame",
    "box",
    "quality",
    "candidates",
    "sighting_id",
    "first_s",
    "last_s",
    "searched",
    "bar",
    "expected_fpir",
    "views_agreement",
    "warning",
    "marked_by",
    "enhancement",
    "source_type",
    "supplied_by",
    "fusion",
    "parts",
}


#: Where the evidence came from and who supplied it: required of every search.
SOURCE = ("--source-type", "cctv", "--supplied-by", "DC Test, Test Police")


def run_cli(
    home: Path, *args: str | Path, user: str | None = None, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = cli_env(home, **({"RETROFACE_PASSWORD": PASSWORD} | extra_env))
    if user:
        env["RETROFACE_USER"] = user
    return subprocess.run(
        [sys.executable, "-m", "retroface.cli.main", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("retroface: error:"), result.stderr
    assert fragment in lines[0]


def add_cli_user(home: Path, name: str, role: str, *extra: str) -> None:
    added = run_cli(
        home, "user", "add", name, "--role", role, *extra, user="admin-5",
        RETROFACE_NEW_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def staffed(home: Path) -> Path:
    """A deployment with an admin, a supervisor and an operator, made through the CLI."""
    assert run_cli(home, "init", "--admin", "admin-5").returncode == 0
    for name, role in (("sgt-2", "supervisor"), ("officer-1", "operator")):
        add_cli_user(home, name, role)
    for args in (
        ("dpia", "--id", "DPIA-7", "--version", "2", "--approved", "2026-01-05"),
        ("policy", "https://example.police.uk/frs-policy"),
    ):
        registered = run_cli(home, "deployment", *args, *_review_due(args), user="admin-5")
        assert registered.returncode == 0, registered.stderr
    return home


def _review_due(args: tuple[str, ...]) -> tuple[str, ...]:
    return ("--review-due", UNTIL) if args[0] == "dpia" else ()


@pytest.fixture
def examples(data: Path) -> Path:
    return data / "face_recognition" / "examples"


def test_quickstart_json_follows_the_documented_schema(home: Path, examples: Path) -> None:
    train = examples / "knn_examples" / "train"
    group = examples / "knn_examples" / "test" / "obama_and_biden.jpg"
    result = run_cli(home, "quickstart", train, group, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # exactly one JSON document
    assert set(doc) == SEARCH_KEYS
    assert doc["case"] == "QUICKSTART-DEMO" and doc["errors"] == []
    assert doc["notice"] == "investigative lead — not an identification"
    assert isinstance(doc["threshold"], float) and doc["model"].startswith("dlib_resnet_v1@")
    for probe in doc["probes"]:
        assert set(probe) == PROBE_KEYS
        assert probe["frame"] is None and len(probe["box"]) == 4
        for c in probe["candidates"]:
            assert set(c) == CANDIDATE_KEYS and c["score"] >= doc["threshold"]
    tops = sorted(p["candidates"][0]["subject"] for p in doc["probes"] if p["candidates"])
    assert tops == ["biden", "obama"]
    # Running it again reuses gallery and case and enrolls nothing twice.
    again = run_cli(home, "quickstart", train, group, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["search_id"] != doc["search_id"]
    again_doc = json.loads(again.stdout)
    assert _without_ids(again_doc["probes"]) == _without_ids(
        doc["probes"]
    )  # nothing enrolled twice
    # The same photo searched again: the same leads, reused with their reviews, not new ones.
    found = [c for p in again_doc["probes"] for c in p["candidates"]]
    assert found and all(c["reused"] for c in found)
    assert again_doc["candidates_reused"] == len(found) and again_doc["reuse_note"]
    assert {c["candidate_id"] for c in found} == {
        c["candidate_id"] for p in doc["probes"] for c in p["candidates"]
    }


@pytest.mark.cli_workflow
def test_full_workflow_and_refusals(staffed: Path, examples: Path, tmp_path: Path) -> None:
    home = staffed
    sup, op = "sgt-2", "officer-1"
    assert_one_line_error(
        run_cli(home, "gallery", "create", "custody", user=op), "may not gallery create"
    )
    assert run_cli(home, "gallery", "create", "custody", user=sup).returncode == 0
    sheet = tmp_path / "provenance.csv"
    sheet.write_text(
        "subject,category,source_system,record_id,holding_basis,taken_on\n"
        "obama,wanted,custody,CR-1,custody-image,2020-01-01\n"
        "biden,suspect,custody,CR-2,custody-image,\n"
    )
    enrolled = run_cli(
        home,
        "gallery",
        "enroll",
        "custody",
        examples / "obama.jpg",
        examples / "biden.jpg",
        "--provenance",
        sheet,
        "--json",
        user=sup,
    )
    assert json.loads(enrolled.stdout)["enrolled"] == 2
    opened = run_cli(
        home,
        "case",
        "open",
        "OP-7",
        "--purpose",
        "robbery enquiry",
        "--basis",
        "law-enforcement",
        "--offence",
        "robbery",
        "--seriousness",
        "indictable-only",
        user=op,
    )
    assert opened.returncode == 0, opened.stderr

    refused = run_cli(
        home,
        "search",
        *SOURCE,
        "--case",
        "OP-7",
        "--gallery",
        "custody",
        examples / "obama2.jpg",
        user=op,
    )
    assert_one_line_error(refused, "no authorisation")
    assert_one_line_error(
        run_cli(home, "case", "authorise", "OP-7", "--until", UNTIL, user=op),
        "may not case authorise",
    )
    assert_one_line_error(
        run_cli(home, "case", "authorise", "OP-7", "--until", "next week", user=sup), "not a date"
    )
    assert run_cli(home, "case", "authorise", "OP-7", "--until", UNTIL, user=sup).returncode == 0
    assert_one_line_error(
        run_cli(
            home,
            "search",
            *SOURCE,
            "--case",
            "OP-7",
            "--gallery",
            "custody",
            examples / "obama2.jpg",
            user=sup,
        ),
        "may not search run",
    )

    missing = tmp_path / "absent.jpg"
    result = run_cli(
        home,
        "search",
        *SOURCE,
        "--case",
        "OP-7",
        "--gallery",
        "custody",
        examples / "obama2.jpg",
        missing,
        "--json",
        user=op,
    )
    doc = json.loads(result.stdout)
    assert result.returncode == 1  # partial: the good file is searched, the bad one reported
    assert doc["probes"][0]["candidates"][0]["subject"] == "obama"
    assert doc["errors"] == [
        {"source": str(missing), "error": f"{missing}: no such file or folder"}
    ]

    assert_one_line_error(
        run_cli(
            home,
            "search",
            *SOURCE,
            "--case",
            "OP-7",
            "--gallery",
            "nope",
            examples / "obama2.jpg",
            user=op,
        ),
        "no gallery named 'nope'",
    )
    assert_one_line_error(
        run_cli(
            home,
            "search",
            *SOURCE,
            "--case",
            "OP-7",
            "--gallery",
            "custody",
            "--threshold",
            "3",
            examples / "obama2.jpg",
            user=op,
        ),
        "threshold",
    )
    text = run_cli(
        home,
        "search",
        *SOURCE,
        "--case",
        "OP-7",
        "--gallery",
        "custody",
        examples / "obama2.jpg",
        user=op,
    )
    assert "1. obama" in text.stdout and "not an identification" in text.stdout
    assert "cctv, supplied by DC Test, Test Police" in text.stdout
    # A composite is no image of the person sought: refused (and audited), one line.
    assert_one_line_error(
        run_cli(
            home, "search", "--source-type", "composite", "--supplied-by", "DC Test",
            "--case", "OP-7", "--gallery", "custody", examples / "obama2.jpg", user=op,
        ),
        "declared as a composite",
    )  # fmt: skip


def _saved_sessions(config: Path) -> list[Path]:
    return sorted((config / "retroface" / "sessions").glob("*.json"))


@pytest.mark.cli_workflow
def test_a_group_photo_is_listed_not_searched_until_a_face_is_chosen(
    staffed: Path, examples: Path
) -> None:
    home, sup, op = staffed, "sgt-2", "officer-1"
    assert run_cli(home, "gallery", "create", "g", user=sup).returncode == 0
    for name in ("obama", "biden"):
        enrolled = run_cli(
            home, "gallery", "enroll", "g", examples / f"{name}.jpg", "--subject", name,
            "--category", "wanted", "--source-system", "custody", "--record-id", f"CR-{name}",
            "--holding-basis", "custody-image", user=sup,
        )  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr
    case = ("--purpose", "p", "--basis", "law-enforcement", "--offence", "robbery")
    opened = run_cli(
        home, "case", "open", "C-1", *case, "--seriousness", "indictable-only", user=op
    )
    assert opened.returncode == 0, opened.stderr
    authorised = run_cli(
        home, "case", "authorise", "C-1", "--until", UNTIL, "--max-searches", "1", user=sup
    )
    assert authorised.returncode == 0, authorised.stderr
    group = examples / "knn_examples" / "test" / "obama_and_biden.jpg"
    search = ("search", *SOURCE, "--case", "C-1", "--gallery", "g", group)

    # Three faces and no choice: listed (number, box, quality), nothing searched, exit 3.
    listed = run_cli(home, *search, user=op)
    assert listed.returncode == 3, listed.stderr
    assert "holds 3 faces; none was searched and no search was used" in listed.stdout
    boxes = re.findall(r"face (\d)  box (\d+),(\d+),(\d+),(\d+)  quality \d\.\d\d", listed.stdout)
    assert [int(b[0]) for b in boxes] == [1, 2, 3], listed.stdout
    assert "--face N or --box x,y,w,h" in listed.stdout and "Traceback" not in listed.stderr
    assert_one_line_error(
        run_cli(home, *search, "--all-faces", user=op), "--all-faces needs --all-faces-reason"
    )

    # The listing used none of the one authorised search: the face on the left (Biden) by
    # a box drawn around it.
    _, x, y, w, h = min(boxes, key=lambda b: int(b[1]) if int(b[2]) < 600 else 10**6)
    drawn = f"{int(x) - 20},{int(y) - 30},{int(w) + 40},{int(h) + 50}"
    chosen = run_cli(home, *search, "--box", drawn, "--json", user=op)
    assert chosen.returncode == 0, chosen.stderr
    (probe,) = json.loads(chosen.stdout)["probes"]
    assert probe["box"] == [int(x), int(y), int(w), int(h)]
    assert probe["candidates"][0]["subject"] == "biden" and probe["marked_by"] is None
    assert_one_line_error(run_cli(home, *search, "--face", "2", user=op), "allows 1 searches")


def test_login_session_and_logout(staffed: Path, tmp_path: Path) -> None:
    home = staffed
    assert_one_line_error(run_cli(home, "whoami"), "not logged in")
    assert_one_line_error(
        run_cli(home, "login", "sgt-2", RETROFACE_PASSWORD="wrong password!"), "wrong password"
    )
    assert run_cli(home, "login", "sgt-2").returncode == 0
    # Kept in the OS user's own config folder (cli_env: XDG_CONFIG_HOME), never in the data
    # directory, readable by its owner only.
    (saved,) = _saved_sessions(tmp_path / "xdg-config")
    assert saved.stat().st_mode & 0o077 == 0 and saved.parent.stat().st_mode & 0o077 == 0
    assert not (home / "session.json").exists()
    assert run_cli(home, "whoami").stdout.strip() == "sgt-2 (supervisor)"
    assert run_cli(home, "gallery", "create", "g").returncode == 0
    assert run_cli(home, "logout").returncode == 0
    assert _saved_sessions(tmp_path / "xdg-config") == []
    assert_one_line_error(run_cli(home, "gallery", "create", "h"), "not logged in")


def test_each_operating_system_user_has_their_own_cli_session(
    staffed: Path, tmp_path: Path
) -> None:
    """Two people on one data directory, each from their own account: whoever logs in last
    is not everyone. ``--password-stdin`` reads the password from a script's pipe."""
    home = staffed
    amy, ben = ({"XDG_CONFIG_HOME": str(tmp_path / name)} for name in ("amy", "ben"))
    assert run_cli(home, "login", "sgt-2", **amy).returncode == 0
    assert run_cli(home, "login", "officer-1", **ben).returncode == 0
    assert run_cli(home, "whoami", **amy).stdout.strip() == "sgt-2 (supervisor)"
    assert run_cli(home, "whoami", **ben).stdout.strip() == "officer-1 (operator)"
    assert_one_line_error(run_cli(home, "whoami"), "not logged in")  # a third account

    piped = subprocess.run(
        [sys.executable, "-m", "retroface.cli.main", "login", "admin-5", "--password-stdin"],
        env=cli_env(home, XDG_CONFIG_HOME=str(tmp_path / "cron")),
        input=PASSWORD + "\nignored second line\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    whoami = run_cli(home, "whoami", XDG_CONFIG_HOME=str(tmp_path / "cron"))
    assert whoami.stdout.strip() == "admin-5 (admin)"


def test_admin_user_commands_deactivate_reactivate_role_reset_and_revoke(
    staffed: Path, tmp_path: Path
) -> None:
    home = staffed
    admin = {"user": "admin-5"}
    officer = {"XDG_CONFIG_HOME": str(tmp_path / "officer")}
    assert run_cli(home, "login", "officer-1", **officer).returncode == 0

    deactivated = run_cli(home, "user", "deactivate", "officer-1", "--reason", "left", **admin)
    assert deactivated.returncode == 0, deactivated.stderr
    assert_one_line_error(run_cli(home, "whoami", **officer), "not logged in")  # session ended
    assert_one_line_error(run_cli(home, "login", "officer-1", **officer), "wrong password")
    assert run_cli(home, "user", "reactivate", "officer-1", **admin).returncode == 0

    promoted = run_cli(home, "user", "role", "officer-1", "supervisor", **admin)
    assert promoted.returncode == 0 and "officer-1 is now supervisor" in promoted.stdout
    assert run_cli(home, "login", "officer-1", **officer).returncode == 0
    assert run_cli(home, "whoami", **officer).stdout.strip() == "officer-1 (supervisor)"

    reset = run_cli(
        home, "user", "reset-password", "officer-1", **admin,
        RETROFACE_NEW_PASSWORD="a brand new passphrase",
    )  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    assert_one_line_error(run_cli(home, "whoami", **officer), "not logged in")
    relogin = run_cli(
        home, "login", "officer-1", RETROFACE_PASSWORD="a brand new passphrase", **officer
    )
    assert relogin.returncode == 0, relogin.stderr
    revoked = run_cli(home, "user", "revoke-sessions", "officer-1", **admin)
    assert "Ended 1 session(s) and 0 API key(s) of officer-1" in revoked.stdout
    assert_one_line_error(run_cli(home, "whoami", **officer), "not logged in")

    assert_one_line_error(
        run_cli(home, "user", "deactivate", "admin-5", **admin), "you are the last active admin"
    )
    assert_one_line_error(
        run_cli(home, "user", "role", "admin-5", "auditor", **admin), "last active admin"
    )
    users = json.loads(run_cli(home, "user", "list", "--json", **admin).stdout)
    assert {u["username"]: (u["role"], u["active"]) for u in users} == {
        "admin-5": ("admin", True),
        "sgt-2": ("supervisor", True),
        "officer-1": ("supervisor", True),
    }


@pytest.mark.cli_workflow
def test_verify_and_its_errors(staffed: Path, examples: Path, tmp_path: Path) -> None:
    home = staffed
    pair = (examples / "obama.jpg", examples / "obama2.jpg")
    # A 1:1 comparison is a search: no case, no comparison (and nothing is analysed).
    missing = run_cli(home, "verify", *pair, user="officer-1")
    assert missing.returncode == 2 and "Missing option '--case'" in missing.stderr
    assert_one_line_error(
        run_cli(home, "verify", *pair, "--case", "V-1", user="officer-1"), "no case 'V-1'"
    )
    opened = run_cli(
        home, "case", "open", "V-1", "--purpose", "1:1 check", "--basis", "law-enforcement",
        "--offence", "robbery", "--seriousness", "indictable-only", user="officer-1",
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert_one_line_error(
        run_cli(home, "verify", *pair, "--case", "V-1", user="officer-1"), "no authorisation"
    )
    authorised = run_cli(home, "case", "authorise", "V-1", "--until", UNTIL, user="sgt-2")
    assert authorised.returncode == 0, authorised.stderr
    for too_low in ("0.1", "-1"):
        assert_one_line_error(
            run_cli(
                home, "verify", *pair, "--case", "V-1", "--threshold", too_low, user="officer-1"
            ),
            "below the deployment's floor",
        )
    same = run_cli(home, "verify", *pair, "--case", "V-1", "--json", user="officer-1")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["same_person_above_threshold"] is True
    different = run_cli(
        home, "verify", examples / "obama.jpg", examples / "biden.jpg", "--case", "V-1", "--json",
        user="officer-1",
    )  # fmt: skip
    assert json.loads(different.stdout)["same_person_above_threshold"] is False

    # The backends are a registry chosen per run: dlib's own HOG and ResNet agree.
    dlib_run = run_cli(
        home, "--detector", "hog", "--embedder", "dlib", "verify", *pair, "--case", "V-1",
        "--json", user="officer-1",
    )  # fmt: skip
    assert dlib_run.returncode == 0, dlib_run.stderr
    assert json.loads(dlib_run.stdout)["score"] == pytest.approx(
        json.loads(same.stdout)["score"], abs=0.02
    )
    assert_one_line_error(
        run_cli(home, "--detector", "sonar", "verify", *pair, "--case", "V-1", user="officer-1"),
        "unknown detector 'sonar' (available: ",
    )

    blank = tmp_path / "blank.png"

    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    assert_one_line_error(
        run_cli(home, "verify", examples / "obama.jpg", blank, "--case", "V-1", user="officer-1"),
        "no face found",
    )
    notes = tmp_path / "notes.jpg"
    notes.write_text("hello")
    assert_one_line_error(
        run_cli(home, "verify", notes, examples / "obama.jpg", "--case", "V-1", user="officer-1"),
        "not an image",
    )


def test_user_mistakes_in_gallery_commands(staffed: Path, tmp_path: Path) -> None:
    home, sup = staffed, "sgt-2"
    assert_one_line_error(
        run_cli(home, "gallery", "show", "ghost", user=sup), "no gallery named 'ghost'"
    )
    run_cli(home, "gallery", "create", "g", user=sup)
    assert_one_line_error(run_cli(home, "gallery", "create", "g", user=sup), "already exists")
    assert_one_line_error(
        run_cli(home, "gallery", "enroll", "g", tmp_path / "nowhere", user=sup),
        "no such file or folder",
    )
    usage = run_cli(home, "no-such-command")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def _without_ids(probes: list[dict]) -> list[dict]:
    """Probes with candidate row ids and reuse flags dropped."""
    return [
        {
            **p,
            "candidates": [
                {k: v for k, v in c.items() if k not in {"candidate_id", "reused"}}
                for c in p["candidates"]
            ],
        }
        for p in probes
    ]


@pytest.mark.cli_workflow
def test_governance_commands_end_to_end(
    staffed: Path, examples: Path, data: Path, tmp_path: Path
) -> None:
    """Review, manifest, erasure, retention and reports, as the people who run them."""
    home, sup, op, admin = staffed, "sgt-2", "officer-1", "admin-5"
    add_cli_user(home, "rev-a", "reviewer", "--trained-on", "2026-01-10")
    add_cli_user(home, "rev-b", "reviewer", "--trained-on", "2026-02-11")
    add_cli_user(home, "aud-1", "auditor")
    assert_one_line_error(
        run_cli(home, "deployment", "threshold-floor", "0.5", user=sup),
        "may not deployment configure",
    )
    # Below the shipped threshold, a floor needs a signed calibration of the running model.
    assert_one_line_error(
        run_cli(home, "deployment", "threshold-floor", "0.9", user=admin), "no calibration record"
    )
    key = {"RETROFACE_AUDIT_KEY": TEST_SIGNING_KEY.decode()}
    tree = att_subset(data, tmp_path / "att", people=8, images=3)
    labels = tmp_path / "groups.csv"
    labels.write_text("subject,group\n" + "".join(f"s{i},{'ab'[i % 2]}\n" for i in range(1, 9)))
    record = tmp_path / "calibration.json"
    # Evaluating processes a dataset's faces: no anonymous run (the operator is refused too).
    anonymous = run_cli(
        home, "eval", "calibrate", tree, "--target-fpir", "0.5", "--out", record, **key
    )
    assert_one_line_error(anonymous, "not logged in")
    measured = run_cli(
        home, "eval", "calibrate", tree, "--target-fpir", "0.5", "--labels", labels,
        "--out", record, "--no-open-set", user=admin, **key,
    )  # fmt: skip
    assert measured.returncode == 0, measured.stderr
    calibrated = json.loads(record.read_text())["threshold"]
    floor = math.ceil(calibrated * 1000) / 1000
    tampered = tmp_path / "tampered.json"
    tampered.write_text(record.read_text().replace(f"{calibrated}", f"{calibrated - 0.1}"))
    assert_one_line_error(
        run_cli(home, "deployment", "calibration", "register", tampered, user=admin, **key),
        "does not verify",
    )
    registered = run_cli(home, "deployment", "calibration", "register", record, user=admin, **key)
    assert registered.returncode == 0, registered.stderr
    assert_one_line_error(
        run_cli(home, "deployment", "threshold-floor", f"{floor - 0.01}", user=admin),
        "no calibration record",
    )
    set_floor = run_cli(home, "deployment", "threshold-floor", f"{floor}", user=admin)
    assert set_floor.returncode == 0, set_floor.stderr
    shown = json.loads(run_cli(home, "deployment", "show", "--json", user=op).stdout)
    assert shown["threshold_floor"] == floor and shown["searching_allowed"] is True

    assert run_cli(home, "gallery", "create", "g", "--max-subjects", "5", user=sup).returncode == 0
    enrolled = run_cli(
        home,
        "gallery",
        "enroll",
        "g",
        examples / "obama.jpg",
        "--subject",
        "obama",
        "--category",
        "wanted",
        "--source-system",
        "custody",
        "--record-id",
        "CR-1",
        "--holding-basis",
        "custody-image",
        user=sup,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert_one_line_error(
        run_cli(
            home,
            "gallery",
            "enroll",
            "g",
            examples / "biden.jpg",
            "--subject",
            "biden",
            "--category",
            "person-of-interest",
            "--source-system",
            "custody",
            "--record-id",
            "CR-2",
            "--holding-basis",
            "custody-image",
            user=sup,
        ),
        "unknown watchlist category",
    )
    case = ("--purpose", "p", "--basis", "law-enforcement", "--offence", "robbery")
    assert (
        run_cli(
            home, "case", "open", "C-1", *case, "--seriousness", "indictable-only", user=op
        ).returncode
        == 0
    )
    authorised = run_cli(
        home,
        "case",
        "authorise",
        "C-1",
        "--until",
        UNTIL,
        "--gallery",
        "g",
        "--max-searches",
        "1",
        user=sup,
    )
    assert authorised.returncode == 0, authorised.stderr
    search = (
        "search",
        *SOURCE,
        "--case",
        "C-1",
        "--gallery",
        "g",
        examples / "obama2.jpg",
        "--json",
    )
    assert_one_line_error(run_cli(home, *search, "--threshold", "0.8", user=op), "floor")
    doc = json.loads(run_cli(home, *search, user=op).stdout)
    candidate = str(doc["probes"][0]["candidates"][0]["candidate_id"])
    assert_one_line_error(run_cli(home, *search, user=op), "allows 1 searches")

    decide = ("review", "decide", candidate, "--outcome", "possible-match", "--reason", "ears")
    assert run_cli(home, *decide, user="rev-a").returncode == 0
    assert_one_line_error(
        run_cli(
            home, "review", "decide", candidate, "--outcome", "yes", "--reason", "x", user="rev-b"
        ),
        "review outcome",
    )
    assert run_cli(home, *decide, user="rev-b").returncode == 0
    queue = json.loads(
        run_cli(home, "review", "list", "--case", "C-1", "--json", user="rev-a").stdout
    )
    assert [c["status"] for c in queue] == ["confirmed"]

    manifest = json.loads(run_cli(home, "gallery", "manifest", "g", user="aud-1").stdout)
    assert [s["record_id"] for s in manifest["subjects"]] == ["CR-1"]
    erased = run_cli(
        home, "gallery", "erase-subject", "g", "obama", "--request", "SAR-1", "--yes", user=sup
    )
    assert erased.returncode == 0 and "1 images" in erased.stdout, erased.stderr
    retention = json.loads(run_cli(home, "retention", "run", "--json", user=admin).stdout)
    assert retention["subjects_purged"] == 0

    today = date.today().isoformat()
    report = run_cli(
        home,
        "report",
        "transparency",
        "--from",
        today,
        "--to",
        today,
        "--out",
        tmp_path / "t",
        user="aud-1",
    )
    assert report.returncode == 0 and report.stdout.startswith("1 searches"), report.stderr
    assert_one_line_error(
        run_cli(home, "report", "transparency", "--from", "today", "--to", today, user="aud-1"),
        "--from",
    )
    pack = run_cli(home, "report", "dpia", "--out", tmp_path / "dpia.md", user="aud-1")
    assert pack.returncode == 0 and "DPIA-7" in (tmp_path / "dpia.md").read_text()
    closed = run_cli(home, "case", "close", "C-1", "--reason", "charged", user=op)
    assert closed.returncode == 0, closed.stderr


@pytest.mark.cli_workflow
def test_live_commands_end_to_end(
    staffed: Path, examples: Path, data: Path, tmp_path: Path
) -> None:
    """A supervisor authorises a deployment; the operator plays the clip as a camera."""
    home, sup, op = staffed, "sgt-2", "officer-1"
    assert run_cli(home, "gallery", "create", "wanted", user=sup).returncode == 0
    sheet = tmp_path / "provenance.csv"
    sheet.write_text(
        "subject,category,source_system,record_id,holding_basis\n"
        "lin-manuel-miranda,wanted,custody,CR-9,custody-image\n"
    )
    photo = examples / "lin-manuel-miranda.png"
    enrolled = run_cli(
        home, "gallery", "enroll", "wanted", photo, "--provenance", sheet, user=sup
    )  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    now = datetime.now(UTC)
    window = (
        "--starts", (now - timedelta(minutes=5)).isoformat(),
        "--ends", (now + timedelta(hours=2)).isoformat(),
    )  # fmt: skip
    create = (
        "lfr", "create", "LFR-CLI", "--watchlist", "wanted", "--purpose", "wanted person",
        "--location", "high street", *window, "--notice", "LFR in use",
    )  # fmt: skip
    assert_one_line_error(run_cli(home, *create, user=sup), "not a live watchlist")
    marked = run_cli(home, "gallery", "live-watchlist", "wanted", "on", user=sup)
    assert marked.returncode == 0, marked.stderr
    assert_one_line_error(run_cli(home, *create, user=op), "may not live deploy")
    assert run_cli(home, *create, user=sup).returncode == 0

    clip = data / "video" / "short_hamilton_clip.mp4"
    jsonl = tmp_path / "alerts.jsonl"
    ran = run_cli(
        home, "live", "--deployment", "LFR-CLI", clip, "--alerts-jsonl", jsonl, "--json", user=op
    )
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["alerts"] >= 1 and "ALERT" in ran.stderr and "lin-manuel-miranda" in ran.stderr
    assert summary["frames_processed"] + summary["frames_dropped"] == summary["frames_decoded"]
    assert len(jsonl.read_text().splitlines()) == summary["alerts"]
    assert_one_line_error(
        run_cli(home, "live", "--deployment", "LFR-CLI", tmp_path / "missing.mp4", user=op),
        "no such file",
    )
    alerts = json.loads(run_cli(home, "lfr", "alerts", "LFR-CLI", "--json", user=op).stdout)
    decided = run_cli(
        home, "lfr", "adjudicate", str(alerts[0]["id"]), "--outcome", "true-alert", "--engaged",
        user=op,
    )  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    report = json.loads(run_cli(home, "lfr", "report", "LFR-CLI", "--json", user=sup).stdout)
    assert report["true_alerts"] == 1 and report["alerts"] == summary["alerts"]


def test_a_data_directory_that_is_a_file_or_a_damaged_database_is_one_error_line(
    tmp_path: Path,
) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("hello")
    assert_one_line_error(run_cli(not_a_folder, "whoami"), "is a file, not a data directory")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "retroface.sqlite3").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    assert_one_line_error(run_cli(damaged, "whoami"), "cannot open the database")

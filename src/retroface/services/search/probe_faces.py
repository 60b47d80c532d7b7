"""Which face of a probe image is searched: listed, chosen or marked by hand, never guessed.

A probe image often shows more than the person sought: a companion, a passer-by, a
child. Searching them all would compare bystanders against the gallery and keep their
faces with the case. So the faces of a single probe image are detected before the
search starts (after every gate of the search has passed, ``check_search_allowed``,
so an unauthorised request still opens no evidence):

* one face: it is searched; several and no choice: they are listed (number, box,
  quality; audited as ``search.faces_listed`` with the file's hash and the count, never
  a box) and the attempt stops before a search exists, so it uses none of the
  authorised searches: :class:`FaceChoiceNeededError` carries the listing;
* a choice (faces/face_choice.py): a face's number, a box around it, a face the
  detector missed marked by hand (box and eye centres), or every face with a recorded
  reason. A choice that fits nothing (a number past the last face, a box no face
  overlaps, a mark over a face the detector found) is refused, audited
  ``search.refused``, before a search exists;
* once the search has started, only the chosen face is aligned and embedded
  (:func:`analyse_prepared`): the others never become a template, a face row or a box
  anywhere in the data directory.

Several evidence files at once take no number, box or mark (those choose in one
image); an image among them with several faces is reported as an error and none of its
faces is analysed, unless every face is searched with a recorded reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError, RetrofaceError
from retroface.faces import Detection, FileAnalysis
from retroface.faces.batch_runner import described
from retroface.faces.face_choice import FaceChoice, check_mark_is_missed, choose_faces
from retroface.faces.manual_alignment import ManualMark
from retroface.governance.roles import Action
from retroface.media import LoadedImage, load_image
from retroface.services.app import App
from retroface.services.results import ProbeFaceListing, ProbeFaceOut
from retroface.services.search.enhanced_probe import EnhancedImage, ProbeEnhancement, enhance
from retroface.services.search.gate import audit_search_refusal
from retroface.services.search.original_quality import gate_on_original
from retroface.services.video.ingest import check_case_open_and_authorised


class FaceChoiceNeededError(InvalidInputError):
    """A probe image holds several faces and none was chosen: nothing was searched, and
    ``listing`` holds the faces to choose from (the message holds no box)."""

    def __init__(self, listing: ProbeFaceListing) -> None:
        self.listing = listing
        super().__init__(
            f"{listing.source} holds {len(listing.faces)} faces and none was "
            "chosen, so nothing was searched and no search was used: choose the face to "
            "search by its number in the listing or by a box around it, or search every "
            "face with a recorded reason"
        )


@dataclass
class PreparedImage:
    """A single probe image, its faces detected and the one to search chosen, before the
    search starts; ``error``: the file could not be read (reported as a file error)."""

    path: Path
    image: LoadedImage | None = None
    error: str | None = None
    chosen: list[Detection] = field(default_factory=list)
    mark: ManualMark | None = None
    detected: int = 0
    #: The image after the operator's enhancement steps (search/enhanced_probe.py): what
    #: is detected, chosen from and searched; ``image`` stays the original evidence.
    enhanced: EnhancedImage | None = None

    @property
    def pixels(self) -> NDArray[np.uint8]:
        """The pixels searched: the enhanced image, or the original."""
        assert self.image is not None
        return self.enhanced.pixels if self.enhanced is not None else self.image.pixels


def check_choice_fits(choice: FaceChoice, images: int, videos: int) -> None:
    """A number, a box or a mark chooses a face in one image: refuse it with other files."""
    if choice.picks_one and (images != 1 or videos):
        raise InvalidInputError(
            "a face number, a box or a face marked by hand chooses a face in one image: "
            f"name exactly one image file (got {images} image(s) and {videos} video(s)); "
            "to search every face of several files, give a reason to search all faces"
        )


def prepare_image(
    app: App,
    case_reference: str,
    gallery_name: str,
    path: Path,
    choice: FaceChoice,
    enhancement: ProbeEnhancement | None = None,
) -> PreparedImage:
    """Load and detect the faces of the one probe image (after ``enhancement``'s steps,
    where given: faces are chosen in the enhanced image), and choose (see the module's
    docstring). Raises :class:`FaceChoiceNeededError` (after auditing the listing) or, for a
    choice that fits no face or steps that cannot apply, :class:`InvalidInputError`
    (audited as a refusal)."""
    try:
        image = load_image(path, app.limits)
    except RetrofaceError as exc:
        return PreparedImage(path, error=str(exc))
    try:
        enhanced = enhance(app, image, enhancement) if enhancement is not None else None
        searched = image if enhanced is None else replace(image, pixels=enhanced.pixels)
        detections = app.engine.detect(searched.pixels)
        if choice.mark is not None:
            check_mark_is_missed(detections, choice.mark)
            choice.mark.check(searched.width, searched.height)
            return PreparedImage(
                path, image, mark=choice.mark, detected=len(detections), enhanced=enhanced
            )
        chosen = choose_faces(detections, choice)
    except InvalidInputError as exc:
        audit_search_refusal(app, case_reference, gallery_name, exc)
        raise
    if chosen is None:
        listing = _listing(app, case_reference, path, searched, detections, None)
        _audit_listing(app, listing, gallery_name)
        raise FaceChoiceNeededError(listing)
    return PreparedImage(path, image, chosen=chosen, detected=len(detections), enhanced=enhanced)


def analyse_prepared(app: App, prepared: PreparedImage) -> FileAnalysis:
    """Align and embed the chosen face (or the face marked by hand) only; chips dropped."""
    if prepared.image is None:
        return FileAnalysis(path=prepared.path, error=prepared.error)
    pixels = prepared.pixels
    if prepared.mark is not None:
        faces = [app.engine.analyse_marked(pixels, prepared.mark)]
    else:
        faces = app.engine.analyse_detections(pixels, prepared.chosen)
    if prepared.enhanced is not None:
        # The floor judges the evidence, not what enhancement made of it.
        faces = gate_on_original(
            app, prepared.image.pixels, prepared.enhanced.steps, faces, prepared.mark
        )
    return described(
        prepared.image,
        prepared.path,
        [replace(f, chip=None) for f in faces],
        prepared.detected,
    )


def list_probe_faces(
    app: App,
    case_reference: str,
    path: Path,
    *,
    shown_as: str | None = None,
    enhancement: ProbeEnhancement | None = None,
) -> ProbeFaceListing:
    """The faces of one probe image (after ``enhancement``'s steps, where given: the faces
    a search with the same steps chooses from), numbered for a person to choose the one to
    search, without searching: nothing is embedded or stored, no search is used. Under the
    case's current authorisation (a refusal is audited); the listing is audited."""
    check_listing_allowed(app, case_reference)
    image = load_image(path, app.limits)
    if enhancement is not None:
        image = replace(image, pixels=enhance(app, image, enhancement).pixels)
    listing = _listing(app, case_reference, path, image, app.engine.detect(image.pixels), shown_as)
    _audit_listing(app, listing, None)
    return listing


def check_listing_allowed(app: App, case_reference: str) -> None:
    """The role, need to know, the deployment's rules and the case's current authorisation
    a listing needs (not a gallery nor a search left: it is no search); a refusal of the
    case is audited as ``search.refused`` of kind ``face listing``."""
    app.require(Action.SEARCH_RUN, case_reference=case_reference)
    try:
        check_case_open_and_authorised(app, case_reference)
    except (AuthorisationError, NotFoundError) as exc:
        audit_search_refusal(app, case_reference, None, exc, kind="face listing")
        raise


def _listing(
    app: App,
    case_reference: str,
    path: Path,
    image: LoadedImage,
    detections: list[Detection],
    shown_as: str | None,
) -> ProbeFaceListing:
    listed = app.engine.assess(image.pixels, detections)
    return ProbeFaceListing(
        case=case_reference,
        source=shown_as or str(path),
        sha256=image.sha256,
        faces=[
            ProbeFaceOut(face=n, box=f.detection.box.as_list(), quality=f.quality.overall)
            for n, f in enumerate(listed, start=1)
        ],
    )


def _audit_listing(app: App, listing: ProbeFaceListing, gallery_name: str | None) -> None:
    """The listing is a processing of the image: audited with its hash and the count of
    faces, never their boxes (the faces not chosen leave no trace of where they were)."""
    with app.unit_of_work() as uow:
        app.audit(
            uow,
            action="search.faces_listed",
            object_type="case",
            object_id=listing.case,
            case_reference=listing.case,
            gallery=gallery_name,
            sha256=listing.sha256,
            faces=len(listing.faces),
            searched=False,
        )
        uow.commit()

"""Where a probe came from, who supplied it, and which "probes" are not images of anyone.

Why recorded: a lead is only as good as the image behind it, and a court, a reviewer
or an auditor must be able to ask where that image came from (a CCTV system, a
body-worn camera, a social-media post, a member of the public) and who handed it
over, without reading the investigation's notes. So every evidence item submitted
for search (a photo, a still, footage) records a source type from a fixed list and
who supplied it, in free text ("DC Smith, Met Police").

Why some are refused: facial recognition compares the geometry of a real face. A
witness's sketch, a composite (E-FIT, PhotoFIT) or an artist's impression is a
likeness recalled from memory, and a "substitute" image (a photo of someone the
suspect is said to look like) is a picture of a different person: searching either
returns people who resemble the drawing or the look-alike, which is no evidence
about the person sought. The Home Office's answer on composite photofit images and
the Police National Database (guidance by the NPCC and the College of Policing:
images of the person, of adequate quality, one person per image) and the documented
misuse of sketches and celebrity look-alikes as probes (Georgetown Law Center on
Privacy & Technology, *Garbage In, Garbage Out*, 2019) are the reasons retroface
refuses them outright rather than warning: a search must use an image of the
person sought. The refusal is audited like any other (``search.refused``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retroface.errors import InvalidInputError

#: The source types an evidence item may record, with what each means.
SOURCE_TYPES: dict[str, str] = {
    "cctv": "CCTV: a fixed camera system (public space, business, home)",
    "body-worn-video": "Body-worn video recorded by an officer",
    "social-media": "A social-media post, profile or message",
    "public-submission": "Submitted by a member of the public (witness, victim, appeal)",
    "other": "Another source (say which in the supplier's text)",
}

#: Declared kinds that are not an image of the person sought: refused, never searched.
REFUSED_KINDS: dict[str, str] = {
    "sketch": "a sketch",
    "composite": "a composite (E-FIT, PhotoFIT or similar)",
    "artist-impression": "an artist's impression",
    "substitute": 'a substitute image (someone the person sought "looks like")',
}

#: Other spellings people type, read as the kind they mean.
_ALIASES: dict[str, str] = {
    "bwv": "body-worn-video",
    "body-worn": "body-worn-video",
    "public": "public-submission",
    "e-fit": "composite",
    "efit": "composite",
    "photofit": "composite",
    "identikit": "composite",
    "artists-impression": "artist-impression",
    "artist-s-impression": "artist-impression",
    "drawing": "sketch",
    "forensic-sketch": "sketch",
    "look-alike": "substitute",
    "lookalike": "substitute",
    "looks-like": "substitute",
}

MAX_SUPPLIER_CHARS = 200


class ProbeSourceRefusedError(InvalidInputError):
    """The probe was declared as something that is not an image of the person sought."""


@dataclass(frozen=True)
class ProbeProvenance:
    """What an evidence item records about its origin: a source type and its supplier."""

    source_type: str
    supplied_by: str

    def record(self) -> dict[str, Any]:
        """As the search's parameters and audit events record it."""
        return {"source_type": self.source_type, "supplied_by": self.supplied_by}


def _normalised(text: str) -> str:
    return "-".join(text.strip().lower().replace("_", "-").replace("'", "-").split())


def check_probe_source(source_type: str | None, supplied_by: str | None) -> ProbeProvenance:
    """The provenance of a probe as given, checked: a known source type and a supplier.

    Raises :class:`ProbeSourceRefusedError` for a sketch, a composite, an artist's
    impression or a substitute ("looks like") image, and :class:`InvalidInputError` for
    an unknown source type or a missing supplier; the caller audits the refusal.
    """
    kind = _normalised(source_type or "")
    kind = _ALIASES.get(kind, kind)
    if kind in REFUSED_KINDS:
        raise ProbeSourceRefusedError(
            f"refused: the probe is declared as {REFUSED_KINDS[kind]}, which is not an image "
            "of the person sought; facial recognition compares real faces, and a search "
            "must use an image of the person sought (photo, still or footage). Nothing "
            "was searched"
        )
    if not kind:
        raise InvalidInputError(
            "say where the evidence came from: a source type, one of " + ", ".join(SOURCE_TYPES)
        )
    if kind not in SOURCE_TYPES:
        raise InvalidInputError(
            f"unknown source type {source_type!r}: one of " + ", ".join(SOURCE_TYPES)
        )
    supplier = " ".join("".join(c if c.isprintable() else " " for c in supplied_by or "").split())
    if not supplier:
        raise InvalidInputError(
            'say who supplied the evidence (free text, e.g. "DC Smith, Met Police")'
        )
    if len(supplier) > MAX_SUPPLIER_CHARS:
        raise InvalidInputError(
            f"who supplied the evidence: at most {MAX_SUPPLIER_CHARS} characters, "
            f"got {len(supplier)}"
        )
    return ProbeProvenance(kind, supplier)


def probe_provenance(source_type: str | None, supplied_by: str | None) -> ProbeProvenance | None:
    """:func:`check_probe_source` when either is given; None when neither is (a library
    caller that records none: the evidence's provenance then reads "not recorded")."""
    if source_type is None and supplied_by is None:
        return None
    return check_probe_source(source_type, supplied_by)

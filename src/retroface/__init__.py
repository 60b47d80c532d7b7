"""retroface: accountable retrospective facial recognition.

The public API is the names in ``__all__``, in two parts.

Face biometrics, with no governance and no storage (``retroface.faces.public``)::

    image = retroface.load_image("photo.jpg")          # (height, width, 3) uint8 RGB
    faces = retroface.find_faces(image)                # boxes, landmarks, quality
    templates = retroface.face_templates(image)        # one (128,) float32 per face
    retroface.compare(templates[0], other) >= retroface.DEFAULT_THRESHOLD

A governed deployment, as a logged-in user, every rule enforced and audited
(``retroface.scripting``)::

    with retroface.Deployment("retroface-data", "olu", password) as rf:
        report = rf.search("OP-17", "custody", ["cctv/still1.jpg"])

Names load on first use (PEP 562), so ``import retroface`` stays cheap: the
CLI imports the package on every start, and no model, database driver or web
framework loads until a name that needs it is used.

The package is layered (see DESIGN.md): media → faces → index → store →
governance → services → cli. Each layer imports only those before it.
"""

from __future__ import annotations

import sys

#: typing.TYPE_CHECKING without importing typing (about 10 ms of the CLI's start, with re).
TYPE_CHECKING = False

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_PUBLIC: dict[str, str] = {
    # face biometrics
    "DEFAULT_THRESHOLD": "retroface.faces.public",
    "FoundFace": "retroface.faces.public",
    "compare": "retroface.faces.public",
    "default_engine": "retroface.faces.public",
    "face_templates": "retroface.faces.public",
    "find_faces": "retroface.faces.public",
    "load_image": "retroface.faces.public",
    "EngineSpec": "retroface.faces.engine_spec",
    "FaceEngine": "retroface.faces.engine",
    # a governed deployment
    "Deployment": "retroface.scripting",
    "SubjectProvenance": "retroface.governance.watchlist_policy",
    # errors a caller may catch
    "RetrofaceError": "retroface.errors",
    "AuthorisationError": "retroface.errors",
    "LockedOutError": "retroface.errors",
    "NotFoundError": "retroface.errors",
    "AlreadyExistsError": "retroface.errors",
    "InvalidInputError": "retroface.errors",
    "MediaError": "retroface.errors",
    "NoFaceFoundError": "retroface.errors",
}

__all__ = [  # written out for type checkers and linters; the same names as _PUBLIC
    "DEFAULT_THRESHOLD",
    "AlreadyExistsError",
    "AuthorisationError",
    "Deployment",
    "EngineSpec",
    "FaceEngine",
    "FoundFace",
    "InvalidInputError",
    "LockedOutError",
    "MediaError",
    "NoFaceFoundError",
    "NotFoundError",
    "RetrofaceError",
    "SubjectProvenance",
    "__version__",
    "compare",
    "default_engine",
    "face_templates",
    "find_faces",
    "load_image",
]

if TYPE_CHECKING:  # type checkers see the real names; at run time they load on first use
    from typing import Any

    from retroface.errors import (
        AlreadyExistsError,
        AuthorisationError,
        InvalidInputError,
        LockedOutError,
        MediaError,
        NoFaceFoundError,
        NotFoundError,
        RetrofaceError,
    )
    from retroface.faces.engine import FaceEngine
    from retroface.faces.engine_spec import EngineSpec
    from retroface.faces.public import (
        DEFAULT_THRESHOLD,
        FoundFace,
        compare,
        default_engine,
        face_templates,
        find_faces,
        load_image,
    )
    from retroface.governance.watchlist_policy import SubjectProvenance

    # Not Deployment: server and services import this package (for __version__), and
    # import-linter counts this block, so a static import of the top layer here reads as
    # theirs. Type checkers see retroface.Deployment as Any; for its type, import it from
    # retroface.scripting.


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use, then keep the name here."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'retroface' has no attribute {name!r}")
    __import__(module)  # importlib itself costs more than this package's import
    value = getattr(sys.modules[module], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

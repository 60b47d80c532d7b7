"""Evidence media: open images (and later video), hash them, keep provenance.

Knows nothing of faces or storage.
"""

from retroface.media.evidence_hash import sha256_bytes, sha256_file
from retroface.media.image_loader import (
    IMAGE_SUFFIXES,
    LoadedImage,
    MediaLimits,
    files_under,
    image_files_under,
    is_image_path,
    load_image,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "LoadedImage",
    "MediaLimits",
    "files_under",
    "image_files_under",
    "is_image_path",
    "load_image",
    "sha256_bytes",
    "sha256_file",
]

"""Errors a user can cause, each with a message a person can act on.

The CLI (and later the API) render these as one line; nothing else in the
code catches broad exceptions. Messages never contain biometric data.
"""

from __future__ import annotations


class RetrofaceError(Exception):
    """Base of every error that is the user's to fix, not a bug."""


class MediaError(RetrofaceError):
    """An evidence or reference file cannot be used as an image or video."""


class MediaTooLargeError(MediaError):
    """The file exceeds a configured byte or pixel limit (or is a decompression bomb)."""


class NoFaceFoundError(RetrofaceError):
    """An image that must contain a face contains none the detector can use."""


class NotFoundError(RetrofaceError):
    """A named gallery, subject, case or search does not exist."""


class AlreadyExistsError(RetrofaceError):
    """A name that must be unique is already taken."""


class AuthorisationError(RetrofaceError):
    """A governance rule refuses the action (missing, expired or invalid authorisation)."""


class InvalidInputError(RetrofaceError):
    """An argument is malformed or out of range."""


class ModelError(RetrofaceError):
    """A model file is missing, unreadable or incompatible."""


class DataKeyError(RetrofaceError):
    """Encrypted data cannot be opened: no key given, the wrong key, or a key record missing."""


class DataIntegrityError(RetrofaceError):
    """Stored biometric data failed its integrity check (altered, moved, or left unencrypted)."""


class BusyError(RetrofaceError):
    """Too much of this person's work is already waiting: try again when some has finished."""


class LockedOutError(BusyError):
    """Too many failed log-ins under one name: no password is checked until the lock ends.

    ``retry_after_s`` is how long until it does (the API's Retry-After header).
    """

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

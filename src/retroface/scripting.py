"""A deployment for Python scripts: log in as a person, then the use cases as methods.

The governed counterpart of the plain face functions (faces/public.py). A
:class:`Deployment` opens a data directory as one logged-in user, checked as
``retroface login`` and ``POST /auth/login`` check a user (a failed log-in is
audited and counts towards the lock on the name), and each method calls
exactly one service function, as that user. The services enforce every rule
(role, case authorisation, gallery scope, DPIA, threshold floor, provenance)
and write the audit log, so a script can do no more than the person could do
at the command line, and leaves the same record::

    import retroface

    with retroface.Deployment("retroface-data", "olu", password) as rf:  # an operator
        report = rf.search("OP-17", "custody", ["cctv/still1.jpg"])
    for probe in report.probes:
        print(probe.box, [(c.subject, c.score) for c in probe.candidates])

Every method's docstring names the role it needs, the audit event it writes
and the errors it raises. Any method refused for the role raises
:class:`~retroface.errors.AuthorisationError` and writes ``access.refused``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from os import PathLike
from pathlib import Path
from types import TracebackType

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.faces.face_choice import FaceChoice
from retroface.governance.identity import Principal
from retroface.governance.watchlist_policy import SubjectProvenance
from retroface.services import App, open_app
from retroface.services.access import users
from retroface.services.cases import manage as cases
from retroface.services.cases import report as case_reports
from retroface.services.cases.report import CaseReportFiles
from retroface.services.galleries import enrol as enrolment
from retroface.services.galleries import manage as galleries
from retroface.services.results import (
    CaseDetail,
    EnrollReport,
    GallerySummary,
    SearchReport,
    VerifyReport,
)
from retroface.services.search import photos
from retroface.services.search import verify as verification
from retroface.services.search.enhanced_probe import probe_enhancement_from
from retroface.settings import Settings

__all__ = [
    "CaseDetail",
    "CaseReportFiles",
    "Deployment",
    "EnrollReport",
    "GallerySummary",
    "SearchReport",
    "SubjectProvenance",
    "VerifyReport",
]

#: One file or folder, or several.
Paths = str | PathLike[str] | Iterable[str | PathLike[str]]


class Deployment:
    """A retroface data directory, opened as one logged-in user.

    ``home`` is the data directory (None: ``settings.home``); ``settings``
    default to ``Settings.from_env()`` (``RETROFACE_*`` variables, as the CLI
    reads them: database URL, encryption key, workers...). The password is
    checked as ``retroface login`` checks it and opens a log-in session of
    ``users.SESSION_HOURS`` (8) hours; every method first checks that the
    session still holds (not expired, not revoked, the account still active)
    and acts with the user's current role. Keep the password out of the
    script: read it with :func:`getpass.getpass` or from the environment.

    Opening needs any active account. Audit: ``login.succeeded``; a wrong
    password or unknown name: ``login.failed``; a locked name: ``login.locked``.
    :meth:`close` (or leaving a ``with`` block) ends the session: ``logout``.

    Raises:
        NotFoundError: there is no data directory (database) at ``home``.
        AuthorisationError: unknown user, wrong password or deactivated account.
        LockedOutError: too many failed log-ins under this name lately (5 in 15
            minutes by default); no password is checked until the lock ends.
        DataKeyError: the directory is encrypted and its key is not configured.
        InvalidInputError: a ``RETROFACE_*`` variable holds a bad value.
    """

    def __init__(
        self,
        home: str | PathLike[str] | None,
        username: str,
        password: str,
        *,
        settings: Settings | None = None,
    ) -> None:
        settings = settings or Settings.from_env()
        if home is not None:
            settings = settings.with_(home=Path(home))
        if settings.database_url is None and not settings.sqlite_path.is_file():
            raise NotFoundError(
                f"no retroface data directory at {settings.home}: "
                "create one with 'retroface init --admin NAME'"
            )
        app = open_app(settings)
        try:
            token, principal = users.login(app, username, password)
        except BaseException:
            app.close()
            raise
        self._app: App | None = app
        self._home = settings.home
        self._token = token
        self._principal = principal

    @property
    def username(self) -> str:
        """The logged-in user's name."""
        return self._principal.username

    @property
    def role(self) -> str:
        """The user's role when the session was opened (each call uses the current one)."""
        return self._principal.role.value

    @property
    def home(self) -> Path:
        """The data directory."""
        return self._home

    def __repr__(self) -> str:
        state = "open" if self._app is not None else "closed"
        return f"<retroface.Deployment {self.username} ({self.role}), {state}>"

    def __enter__(self) -> Deployment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the log-in session and close the database; closing twice does nothing.

        Audit: ``logout``.
        """
        app, self._app = self._app, None
        if app is None:
            return
        try:
            users.logout(app.acting_as(self._principal), self._token)
        except NotFoundError:  # the session row is already gone: nothing to end
            pass
        finally:
            app.close()

    # -- galleries ---------------------------------------------------------------------

    def create_gallery(
        self, name: str, description: str = "", *, max_subjects: int | None = None
    ) -> GallerySummary:
        """Create an empty gallery (watchlist), capped at ``max_subjects`` active subjects.

        Role: supervisor. Audit: ``gallery.created``.

        Raises:
            AuthorisationError: the role may not create galleries.
            AlreadyExistsError: a gallery of that name exists.
            InvalidInputError: an empty or over-long name, or a cap below 1.
        """
        return galleries.create_gallery(
            self._acting(), name, description, max_subjects=max_subjects
        )

    def enrol(
        self,
        gallery: str,
        files: Paths,
        *,
        subject: str | None = None,
        provenance: SubjectProvenance | Mapping[str, SubjectProvenance] | None = None,
    ) -> EnrollReport:
        """Enrol reference photos into ``gallery``; re-enrolling the same image does nothing.

        ``files``: image files of ``subject``, or (``subject`` None) folders
        holding one sub-folder of images per subject, named after them. Each
        new subject needs its provenance (category, source system, record id,
        holding basis): one :class:`SubjectProvenance` for one subject, or a
        mapping by subject name. Every rule is checked before any image is
        analysed; an image that cannot be used (no face, several, unreadable)
        is listed in the report's ``skipped``.

        Role: supervisor. Audit: ``reference.enrolled`` for each image enrolled.

        Raises:
            AuthorisationError: the role may not enrol; the gallery is full; a
                child is listed without an under-18 reason.
            NotFoundError: no such gallery.
            InvalidInputError: a missing file or folder, a new subject without
                provenance or with an invalid one, a bad subject name.
        """
        return enrolment.enroll(
            self._acting(), gallery, _paths(files), subject=subject, provenance=provenance
        )

    # -- cases -------------------------------------------------------------------------

    def open_case(
        self,
        reference: str,
        *,
        purpose: str,
        lawful_basis: str,
        offence: str,
        seriousness: str,
    ) -> CaseDetail:
        """Open a case, the record every search is made under, with the logged-in operator
        as its requester; a supervisor must authorise it (:meth:`authorise_case`) before
        it can be searched.

        ``lawful_basis``, ``offence`` and ``seriousness`` are chosen from fixed
        lists (``retroface case open --help`` shows them).

        Role: operator. Audit: ``case.opened``.

        Raises:
            AuthorisationError: the role may not open cases.
            AlreadyExistsError: a case with that reference exists.
            InvalidInputError: an empty or over-long reference or purpose, or a
                value not on its list.
        """
        return cases.open_case(
            self._acting(),
            reference,
            purpose=purpose,
            lawful_basis=lawful_basis,
            offence=offence,
            seriousness=seriousness,
        )

    def authorise_case(
        self,
        reference: str,
        *,
        until: datetime | date,
        valid_from: datetime | date | None = None,
        galleries: list[str] | None = None,
        max_searches: int | None = None,
    ) -> CaseDetail:
        """Authorise searches under an open case, in the logged-in supervisor's name.

        ``until``: when the authorisation ends (a date: the end of that day,
        UTC; a time without zone: UTC); ``valid_from``: when it starts (default
        now; a date: the start of that day, UTC), never in the past. It lasts
        at most ``authorisation_max_days`` (90 by default). ``galleries`` limits
        the galleries it covers (None: any); ``max_searches`` how many searches
        it allows (None: no limit).

        Role: supervisor. Audit: ``case.authorised``.

        Raises:
            AuthorisationError: the role may not authorise; the supervisor is
                the case's requester (nobody authorises their own request).
            NotFoundError: no such case, or no gallery of a name in ``galleries``.
            InvalidInputError: the case is closed; the window starts in the past,
                ends in the past, ends before it starts or is longer than allowed;
                an empty gallery list; ``max_searches`` below 1.
        """
        return cases.authorise_case(
            self._acting(),
            reference,
            until=_moment(until, end_of_day=True),
            valid_from=None if valid_from is None else _moment(valid_from, end_of_day=False),
            galleries=galleries,
            max_searches=max_searches,
        )

    def close_case(self, reference: str, *, reason: str) -> CaseDetail:
        """Close a case: no more searches, and every probe template and uploaded evidence
        file of the case is deleted.

        Role: operator or supervisor. Audit: ``case.closed``.

        Raises:
            AuthorisationError: the role may not close cases.
            NotFoundError: no such case.
            InvalidInputError: the case is already closed, or no reason is given.
        """
        return cases.close_case(self._acting(), reference, reason)

    def case_report(self, reference: str) -> CaseReportFiles:
        """Write the case's report (searches, candidates with both faces, decisions, audit
        extract) as HTML and PDF under ``exports/case-reports/`` in the data directory.

        Role: operator (on the case's team), reviewer, supervisor or auditor.
        Audit: ``report.case_written``.

        Raises:
            AuthorisationError: the role may not read case reports.
            NotFoundError: no such case.
        """
        return case_reports.case_report(self._acting(), reference)

    # -- searching ---------------------------------------------------------------------

    def search(
        self,
        case: str,
        gallery: str,
        evidence: Paths,
        *,
        threshold: float | None = None,
        max_candidates: int | None = None,
        probe_labels: dict[str, str] | None = None,
        face_choice: FaceChoice | None = None,
        source_type: str | None = None,
        supplied_by: str | None = None,
        one_person: bool = False,
        enhance: list[str] | None = None,
        keep_enhanced: bool = False,
    ) -> SearchReport:
        """Search the chosen faces of the evidence (images, videos or folders) against ``gallery``.

        Runs only under an open case with a current authorisation that covers
        the gallery and has searches left, on a deployment with its DPIA and
        policy on record; all of it is checked before any evidence is opened.
        Each face gets at most ``max_candidates`` (default 10) candidates
        scoring at least ``threshold`` (default: the deployment's, never below
        its floor): leads for two trained reviewers, not identifications.
        Files that cannot be read are listed in the report's ``errors``.

        ``face_choice`` (``retroface.faces.face_choice.FaceChoice``) says which face of
        the one image named to search: its number, a box around it, a face the detector
        missed marked by hand, or every face with a recorded reason. Without one, an
        image with one face is searched, one with several raises (nothing searched, no
        search used); among several files an image with several faces is an ``errors``
        entry, unless every face is searched with a reason.

        ``source_type`` (cctv, body-worn-video, social-media, public-submission, other)
        and ``supplied_by`` (free text) are recorded on every evidence item; a sketch,
        composite, artist-impression or substitute ("looks like") image is refused. With
        ``one_person`` the images are stills of one unknown person, searched as one
        fused probe with one candidate list.

        ``enhance``: steps applied, in order, to the one image named before its faces are
        found (``retroface.media.enhancement``: ``"clahe:clip=2,tile=8"``, ``"gamma:0.8"``);
        the original is kept and hashed, each step recorded and audited
        (``probe.enhancement_step``), the candidates flagged as enhanced; the enhanced image
        is kept too only with ``keep_enhanced``.

        Role: operator. Audit: ``search.started``, ``search.media_processed`` for
        each file, ``search.completed``; a search the gate refuses: ``search.refused``.

        Raises:
            AuthorisationError: the role may not search; the case is closed,
                unauthorised, its authorisation expired, excludes the gallery
                or has no searches left; the deployment lacks its DPIA or
                policy; ``threshold`` is below the floor.
            NotFoundError: no such case or gallery, or the gallery is empty.
            InvalidInputError: no evidence named; ``max_candidates`` outside
                1..50; a threshold outside -1..1; bad ``probe_labels``; a face choice
                that fits no face; one image with several faces and no choice
                (``FaceChoiceNeededError``, whose ``listing`` numbers them).
        """
        return photos.search(
            self._acting(),
            case,
            gallery,
            _paths(evidence),
            threshold=threshold,
            max_candidates=max_candidates,
            probe_labels=probe_labels,
            face_choice=face_choice,
            source_type=source_type,
            supplied_by=supplied_by,
            one_person=one_person,
            enhancement=probe_enhancement_from(enhance, keep_copy=keep_enhanced),
        )

    def verify(
        self,
        case: str,
        first: str | PathLike[str],
        second: str | PathLike[str],
        *,
        threshold: float | None = None,
    ) -> VerifyReport:
        """1:1 under a case: is the person in one photo the person in the other, at
        ``threshold`` (default: the deployment's, never below its floor)? Each photo must
        show one person (or one clearly largest face).

        A comparison passes the same gate as a search (an open, authorised case,
        whose search count it uses; the deployment's rules) before either photo
        is opened.

        Role: operator or reviewer. Audit: ``comparison.started``, then ``verify.run``
        (``comparison.failed`` when a photo cannot be used); a comparison the gate
        refuses: ``search.refused``.

        Raises:
            AuthorisationError: the role may not verify; the case is closed,
                unauthorised or out of searches; the deployment's rules refuse;
                ``threshold`` is below the floor.
            NotFoundError: no such case.
            InvalidInputError: a threshold outside -1..1.
            NoFaceFoundError: a photo shows no face, or several of similar size.
            RetrofaceError: a photo cannot be read (missing, corrupt, too large).
        """
        return verification.verify(
            self._acting(), case, Path(first), Path(second), threshold=threshold
        )

    # -- internals ---------------------------------------------------------------------

    def _open_app(self) -> App:
        if self._app is None:
            raise InvalidInputError("this deployment is closed: open it again")
        return self._app

    def _acting(self) -> App:
        """The deployment acting as the user, if their session still holds."""
        app = self._open_app()
        principal: Principal | None = users.principal_for_token(app, self._token)
        if principal is None:
            raise AuthorisationError(
                f"the log-in session of {self.username} has ended (expired, revoked or the "
                "account deactivated): open the deployment again"
            )
        return app.acting_as(principal)


def _paths(value: Paths) -> list[Path]:
    if isinstance(value, str | PathLike):
        return [Path(value)]
    return [Path(item) for item in value]


def _moment(value: datetime | date, *, end_of_day: bool) -> datetime:
    """A date is the start (or end) of that day in UTC; a time without zone is UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(23, 59, 59) if end_of_day else time(0), tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)

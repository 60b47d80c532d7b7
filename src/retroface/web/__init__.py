"""The web review UI: server-rendered pages (Jinja2, plain forms, no build step).

Pages call the same services as the CLI and the API, as the user whose
session cookie the browser holds; ``retroface.server`` mounts them at ``/ui``:
``pages`` (log in, cases, search, review, audit, users) and ``case_work`` (open and
authorise cases, galleries and enrolment, the deployment's rules, disputed candidates) and
``probe_enhancement`` (a probe image before and after enhancement steps) and
``duplicates_page`` (a gallery's duplicate records, compared and decided) and
``probe_choice`` (the search form's face picker: one photo's faces as JSON).
"""

from fastapi import APIRouter

from retroface.web import case_work, duplicates_page, pages, probe_choice, probe_enhancement
from retroface.web.pages import STATIC_DIR, render_error

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(case_work.router)
router.include_router(probe_enhancement.router)
router.include_router(duplicates_page.router)
router.include_router(probe_choice.router)

__all__ = ["STATIC_DIR", "render_error", "router"]

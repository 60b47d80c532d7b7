"""The web review UI: server-rendered pages (Jinja2, plain forms, no build step).

Pages call the same services as the CLI and the API, as the user whose
session cookie the browser holds; ``retroface.server`` mounts them at ``/ui``.
"""

from retroface.web.pages import STATIC_DIR, render_error, router

__all__ = ["STATIC_DIR", "render_error", "router"]

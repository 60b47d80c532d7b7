"""What every page a browser test visits must pass: no Content-Security-Policy violation, and
no serious or critical WCAG 2.1 A/AA violation found by axe-core.

CSP violations are caught twice over: Chromium logs each one to the console, and a script
Playwright adds to every document before the page's own (through the DevTools protocol,
so the page's CSP does not apply to it) forwards each ``securitypolicyviolation`` event to
the console too. axe-core comes from the installed ``axe-playwright-python`` package (its
bundled ``axe.min.js``: no network) and runs the same way, outside the page's CSP.

:class:`PageChecks` opens the test's pages, records every page they navigate to and every
violation they log; the test calls :meth:`PageChecks.check` on each page once it shows what
the test came for, and :meth:`PageChecks.finish` (the fixture does) fails the test on any
CSP violation seen anywhere, or on a page visited but never checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe

from tests.helpers import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Frame, Page

#: Marks the violations the init script forwards to the console.
CSP_MARK = "CSP violation:"
FORWARD_CSP_VIOLATIONS = f"""
document.addEventListener("securitypolicyviolation", (e) => {{
  console.error("{CSP_MARK} " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline")
    + " in " + e.documentURI + (e.sample ? " (" + e.sample + ")" : ""));
}});
"""
#: WCAG 2.0 and 2.1, levels A and AA (axe-core's tags): a serious or critical violation fails.
WCAG_21_AA = frozenset({"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"})
FAILING_IMPACTS = frozenset({"serious", "critical"})
#: axe-core's best practices for a page's structure, failing at any impact: one main
#: landmark, all content in landmarks, a first-level heading, headings in order.
STRUCTURE_RULES = frozenset(
    {
        "landmark-one-main",
        "landmark-unique",
        "landmark-no-duplicate-banner",
        "landmark-no-duplicate-main",
        "region",
        "page-has-heading-one",
        "heading-order",
        "empty-heading",
    }
)
VIEWPORT = {"width": 1366, "height": 900}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _page_path(url: str) -> str:
    return urlsplit(url).path


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on ``page`` as it is now,
    and any of its structure rules (headings, landmarks) broken."""
    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": [*sorted(WCAG_21_AA), "best-practice"]},
            "resultTypes": ["violations"],
        },
    )
    return [
        v
        for v in results.response["violations"]
        if (v.get("impact") in FAILING_IMPACTS and WCAG_21_AA.intersection(v.get("tags", ())))
        or v["id"] in STRUCTURE_RULES
    ]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        summary = v["nodes"][0].get("failureSummary", "").replace("\n", " ")
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}. {summary}")
    return "\n".join(lines)


class PageChecks:
    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.csp_violations: list[str] = []
        self.visited: set[str] = set()
        self.checked: set[str] = set()

    def new_page(self) -> Page:
        """A page in a fresh browser context (its own cookies: one person), watched."""
        context = self.browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        context.add_init_script(FORWARD_CSP_VIOLATIONS)
        page = context.new_page()
        page.on("console", self._on_console)
        page.on("framenavigated", self._on_navigated)
        return page

    def _on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if text.startswith(CSP_MARK) or "Content Security Policy" in text:
            self.csp_violations.append(text)

    def _on_navigated(self, frame: Frame) -> None:
        if frame.parent_frame is None:
            self.visited.add(_page_path(frame.url))

    def check(self, page: Page, *, structure: bool = True) -> None:
        """Fail on any CSP violation so far, on serious or critical accessibility violations
        of ``page`` as it is now, and on broken headings or landmarks (``structure=False``:
        not those, for a stand-alone document such as the case report)."""
        page.wait_for_load_state("load")
        assert not self.csp_violations, "CSP violations:\n" + "\n".join(self.csp_violations)
        found = [
            v for v in accessibility_violations(page) if structure or v["id"] not in STRUCTURE_RULES
        ]
        assert not found, f"accessibility violations on {page.url}:\n{describe(found)}"
        assert not self.csp_violations, "CSP violations:\n" + "\n".join(self.csp_violations)
        self.checked.add(_page_path(page.url))

    def finish(self) -> None:
        assert not self.csp_violations, "CSP violations:\n" + "\n".join(self.csp_violations)
        unchecked = sorted(self.visited - self.checked - {"", "/"} - {_page_path("about:blank")})
        assert not unchecked, f"pages visited but never checked: {unchecked}"

    def log_in(self, url: str, username: str, *, start: str = "/ui/") -> Page:
        """A new browser (one person) that opens ``start``, is sent to the log-in page, logs
        in and is sent back to ``start``; each page checked."""
        page = self.new_page()
        page.goto(f"{url}{start}")
        assert _page_path(page.url) == "/ui/login"
        self.check(page)
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{url}{start}")
        self.check(page)
        return page


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

"""One HTML page that gathers an evaluation's facts, tables and plots.

The page is opened from a results folder, mailed, or archived with a case
file, so it is a single self-contained file: inline CSS, no scripts, nothing
fetched from elsewhere, images referenced relative to the page. Every value is
HTML-escaped (Jinja2 autoescape) and every link is URL-quoted, because facts
such as dataset or model names come from user input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2

from retroface.eval.plots import data_file_for, write_atomically

PAGE_NAME = "index.html"

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.5rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; margin: 1rem 0; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.25rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
figure { margin: 1.5rem 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
{% if facts %}
<dl>
{% for name, value in facts %}
<dt>{{ name }}</dt><dd>{{ value }}</dd>
{% endfor %}
</dl>
{% endif %}
{% for table in tables %}
<table>
<caption>{{ table.caption }}</caption>
<thead><tr>{% for cell in table.header %}<th>{{ cell }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in table.rows %}
<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
{% endfor %}
{% for image in images %}
<figure>
<img src="{{ image.src }}" alt="{{ image.name }}">
<figcaption>{{ image.name }}: <a href="{{ image.csv }}">numbers (CSV)</a></figcaption>
</figure>
{% endfor %}
</body>
</html>
"""

_ENVIRONMENT = jinja2.Environment(
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_PAGE = _ENVIRONMENT.from_string(_TEMPLATE)


@dataclass(frozen=True)
class SummaryTable:
    """A table of already-formatted cells; every row has as many cells as ``header``."""

    caption: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.header):
                raise ValueError(
                    f"table {self.caption!r}: row {number} has {len(row)} cells, "
                    f"the header has {len(self.header)}"
                )


@dataclass(frozen=True)
class _Image:
    name: str
    src: str
    csv: str


def render_summary_page(
    title: str,
    facts: Sequence[tuple[str, str]],
    tables: Sequence[SummaryTable],
    images: Sequence[str],
) -> str:
    """The page's HTML. ``images`` are PNG paths relative to the page; each links its CSV."""
    shown = [_Image(name, quote(name), quote(data_file_for(name))) for name in images]
    return _PAGE.render(title=title, facts=facts, tables=tables, images=shown)


def write_summary_page(
    out_dir: Path | str,
    title: str,
    facts: list[tuple[str, str]],
    tables: list[SummaryTable],
    images: list[str],
) -> Path:
    """Write ``index.html`` into ``out_dir`` (atomically) and return its path.

    ``facts`` are (name, value) pairs such as dataset, model, date and counts;
    ``images`` are the PNG file names written beside it (e.g. by ``plots``).
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / PAGE_NAME
    write_atomically(page, render_summary_page(title, facts, tables, images).encode("utf-8"))
    return page

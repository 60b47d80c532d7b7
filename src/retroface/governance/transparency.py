"""Transparency statistics: what was searched, why, and what people decided.

Published figures are the check the public has on a force's use of face
search (ICO Opinion 2019/01; EU AI Act Art 26). Figures are counted from
the searches, candidates and reviews themselves. Demographic groups come
only from labels an operator supplied; nothing is inferred from images.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from retroface.media.csv_sheets import SafeCsvWriter

#: Columns of every table, in order; "false positives" are candidates a
#: reviewer judged not to be the probe person (status ``no-match``).
METRICS = (
    "searches",
    "searches_with_candidates",
    "candidates",
    "reviewed",
    "possible_match",
    "confirmed",
    "no_match_false_positive",
    "inconclusive",
    "disputed",
)


#: A supervisor's resolution of a dispute, counted as the outcome it gave
#: (governance/review_policy.py::RESOLVED_STATUSES; ``confirmed`` counts as itself).
RESOLVED_AS = {
    "possible-match-by-supervisor": "possible-match",
    "rejected-by-supervisor": "no-match",
    "inconclusive-by-supervisor": "inconclusive",
}


@dataclass(frozen=True)
class CandidateFacts:
    status: str
    subject_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchFacts:
    offence_category: str
    seriousness: str
    lawful_basis: str
    probe_labels: dict[str, str]
    candidates: list[CandidateFacts]


@dataclass
class Statistics:
    start: date
    end: date
    #: section → group → metric → count
    tables: dict[str, dict[str, Counter[str]]]


def compute(searches: Iterable[SearchFacts], start: date, end: date) -> Statistics:
    tables: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for s in searches:
        per_search = _search_counts(s.candidates)
        groups = [
            ("all searches", "total"),
            ("by offence category", s.offence_category),
            ("by seriousness", s.seriousness),
            ("by lawful basis", s.lawful_basis),
        ] + [("by probe label (operator-supplied)", f"{k}={v}") for k, v in s.probe_labels.items()]
        for section, group in groups:
            tables[section][group].update(per_search)
        for c in s.candidates:
            for key, value in c.subject_labels.items():
                tables["candidates by subject label (operator-supplied)"][f"{key}={value}"].update(
                    _search_counts([c], count_search=False)
                )
    return Statistics(start, end, {k: dict(v) for k, v in tables.items()})


def _search_counts(candidates: list[CandidateFacts], count_search: bool = True) -> Counter[str]:
    counts: Counter[str] = Counter()
    if count_search:
        counts["searches"] = 1
        counts["searches_with_candidates"] = int(bool(candidates))
    counts["candidates"] = len(candidates)
    for c in candidates:
        if c.status != "unreviewed":
            counts["reviewed"] += 1
        status = RESOLVED_AS.get(c.status, c.status)
        key = "no_match_false_positive" if status == "no-match" else status.replace("-", "_")
        if key in METRICS:
            counts[key] += 1
    return counts


def to_csv(stats: Statistics) -> str:
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(["from", "to", "section", "group", *METRICS])
    for section, groups in stats.tables.items():
        for group, counts in sorted(groups.items()):
            writer.writerow(
                [stats.start, stats.end, section, group, *(counts.get(m, 0) for m in METRICS)]
            )
    return out.getvalue()


def to_markdown(stats: Statistics) -> str:
    lines = [
        f"# Face search transparency report, {stats.start} to {stats.end}",
        "",
        "Every candidate list is an investigative lead, not an identification; every "
        "candidate is reviewed by trained people. A *confirmed* candidate was judged a "
        "possible match by two different reviewers; a *false positive* is a candidate "
        "above the threshold that a reviewer judged not to be the person searched for.",
        "Demographic groups appear only where an operator supplied labels; retroface "
        "never infers race, ethnicity or any other attribute from images.",
        "",
    ]
    if not stats.tables:
        lines.append("No searches were made in this period.")
    header = "| group | " + " | ".join(m.replace("_", " ") for m in METRICS) + " |"
    rule = "|---" * (len(METRICS) + 1) + "|"
    for section, groups in stats.tables.items():
        lines += [f"## {section.capitalize()}", "", header, rule]
        for group, counts in sorted(groups.items()):
            lines.append(
                f"| {group} | " + " | ".join(str(counts.get(m, 0)) for m in METRICS) + " |"
            )
        lines.append("")
    return "\n".join(lines)

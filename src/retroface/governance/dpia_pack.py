"""The DPIA evidence pack: the facts a Data Protection Impact Assessment must rest on.

It does not write the assessment (people do, UK GDPR Art 35 / DPA 2018
s.64); it gathers what the system can state as fact, from the running
deployment, so the assessment is checked against reality and not a brochure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retroface.governance.case_policy import LAWFUL_BASES, OFFENCE_CATEGORIES
from retroface.governance.retention import EU_AUTHORISATION_DEADLINE
from retroface.governance.watchlist_policy import (
    HOLDING_BASES,
    RETENTION_CLASSES,
    SUBJECT_CATEGORIES,
)

DATA_FLOWS = """\
1. A supervisor enrols reference images into a gallery (watchlist). Each entry has a fixed
   category, its source system and record id, the basis for holding the image and a review
   date. Images are read in place; the system stores their SHA-256, the face box, landmarks,
   a quality score and a 128-number template. Images are not copied.
2. An operator opens a case (purpose, lawful basis, offence category and seriousness); a
   different person, a supervisor, authorises it for a time window, named galleries and a
   number of searches.
3. The operator submits evidence. Every face found is compared with the gallery's templates;
   candidates above the threshold, at most the cap, are stored with the search. Probe
   templates without a candidate are not kept (or are kept to case closure, if configured).
   Footage is scanned on sampled frames; each person's continuous appearance becomes one
   sighting (times, three best views as boxes, one fused template), kept until the case
   closes so that the case's footage can be searched again without rescanning.
4. Trained reviewers, never the operator who searched, mark each candidate possible match,
   no match or inconclusive; two reviewers must agree for a confirmed match.
5. Retention deletes probe templates at review (non-matches) and case closure, removes
   watchlist entries on their review date and deletes them after a grace period.
6. Every step writes a hash-chained audit event in the same transaction."""


@dataclass(frozen=True)
class DpiaFacts:
    deployment: dict[str, Any]
    galleries: list[dict[str, Any]]
    settings: dict[str, Any]
    model_cards: list[dict[str, str]]
    audit_head: dict[str, Any]
    generated_at: str


def render(facts: DpiaFacts) -> str:
    d = facts.deployment
    dpia = d.get("dpia") or {}
    lines = [
        "# DPIA evidence pack",
        "",
        f"Generated {facts.generated_at} by retroface from the running deployment.",
        "",
        "## Registered documents",
        "",
        f"- DPIA: {dpia.get('identifier', 'NOT REGISTERED')} version {dpia.get('version', '-')}, "
        f"approved {dpia.get('approved_on', '-')}, review due {dpia.get('review_due_on', '-')}",
        f"- Policy document: {d.get('policy') or 'NOT REGISTERED'}",
        f"- Searching allowed now: {'yes' if d.get('searching_allowed') else 'no: ' + str(d.get('refusal'))}",
        "",
        "## Data flows",
        "",
        DATA_FLOWS,
        "",
        "## Categories of people and data",
        "",
        "Watchlist categories (fixed list): "
        + "; ".join(f"`{k}` ({v})" for k, v in SUBJECT_CATEGORIES.items()),
        "",
        "Bases for holding an image: "
        + "; ".join(f"`{k}` ({v})" for k, v in HOLDING_BASES.items()),
        "",
        "Lawful bases for a search: " + "; ".join(f"`{k}`" for k in LAWFUL_BASES),
        "",
        "Offence categories: " + ", ".join(f"`{k}`" for k in OFFENCE_CATEGORIES),
        "",
        "| gallery | version | active subjects | cap | subjects by category | under 18 (with reason) |",
        "|---|---|---|---|---|---|",
    ]
    for g in facts.galleries:
        cats = ", ".join(f"{k}: {v}" for k, v in sorted(g["categories"].items())) or "-"
        lines.append(
            f"| {g['name']} | {g['version']} | {g['active']} | {g['cap']} | {cats} | {g['under_18']} |"
        )
    s = facts.settings
    lines += [
        "",
        "## Retention",
        "",
        f"- Probe templates of faces without a candidate: deleted {s['probe_retention'].replace('-', ' at ')}"
        if s["probe_retention"] == "case-closure"
        else "- Probe templates of faces without a candidate: never stored (deleted at once)",
        "- Probe templates of reviewed non-matches: deleted at review",
        "- All probe templates of a case: deleted at case closure",
        "- Watchlist review classes: "
        + ", ".join(f"`{k}` ({v} days)" for k, v in RETENTION_CLASSES.items()),
        f"- Removed entries are deleted for good after {s['removal_grace_days']} days",
        f"- EU mode: {'on' if d.get('eu_mode') else 'off'} (searches without a judicial or "
        f"administrative authorisation are suspended and purged after "
        f"{int(EU_AUTHORISATION_DEADLINE.total_seconds() // 3600)} hours)",
        "",
        "## Thresholds and caps",
        "",
        f"- Default threshold (cosine similarity): {d.get('default_threshold')}",
        f"- Threshold floor set by the admin: {d.get('threshold_floor')}",
        f"- Candidate list cap: {s['max_candidates']}",
        f"- Gallery cap (default): {s['gallery_max_subjects']}",
        "",
        "## Models and measured accuracy",
        "",
        f"In use: detector `{s['detector_in_use']}`, embedder `{s['embedder_in_use']}`.",
        "",
    ]
    for card in facts.model_cards:
        lines += [
            f"### {card['name']} (`{card['key']}`, {card['kind']})",
            "",
            f"- Source: {card['source']}; licence: {card['licence']}",
            f"- Training data: {card['training_data']}",
            f"- Published accuracy: {card['published_accuracy']}",
            f"- Last measured accuracy: {card['measured_accuracy']}",
            "",
        ]
    h = facts.audit_head
    lines += [
        "## Audit log",
        "",
        f"- Events: {h['events']}; chain verified: {'yes' if h['ok'] else 'NO: ' + h['reason']}",
        f"- Chain head (SHA-256 of the latest event): `{h['head']}`",
        "",
    ]
    return "\n".join(lines)

"""The tag map: every tag with who has it, what adds it, what depends on it, and what looks
wrong (near-duplicate names, tags nothing uses, tags something needs but nothing adds).

A fixed number of queries whatever the number of tags, subscribers or steps: the tags, one
grouped count of taggings by tag and source, and each registered finder's own few queries
(``dependents.py``).
"""

import csv
import io
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from django.db.models import Count
from django.urls import reverse

from apps.crm.delivery import url_origin
from apps.crm.models import Broadcast, BroadcastStatus, Form, Hook

from .conditions import condition_tag_ids
from .dependents import Role, TagUse, tag_uses_all
from .models import Tag, Tagging

# A name's group is what comes before the first of these ("Course – Complete" -> "Course").
GROUP_SEPARATORS = (" – ", " — ", " - ", ": ")
NO_GROUP = "Other"
# Tagging sources that no registered finder stands for: shown as "seen via" rows.
SEEN_VIA = {
    "api": "the API",
    "import": "imports",
    "admin": "the admin (by hand)",
    "form": "forms",
    "demo": "the demo seed",
}
_DIGITS = re.compile(r"\d+")
_DASHES = str.maketrans({c: " " for c in "-–—_"})


@dataclass
class TagMapRow:
    tag: Tag
    group: str
    subscribers: int = 0
    adds: list[TagUse] = field(default_factory=list)
    needs: list[TagUse] = field(default_factory=list)
    removes: list[TagUse] = field(default_factory=list)
    seen_via: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def tag_name_group(name: str) -> str:
    cuts = [name.find(sep) for sep in GROUP_SEPARATORS if name.find(sep) > 0]
    return name[: min(cuts)].strip() if cuts else NO_GROUP


def tag_name_normalised(name: str) -> str:
    """Case, spacing and dashes ignored: "Course-Complete" and "course  complete" match."""
    return " ".join(name.casefold().translate(_DASHES).split())


def one_typo_apart(a: str, b: str) -> bool:
    """Levenshtein distance 1 (one letter changed, added or dropped), or two neighbouring
    letters swapped ("Compelte"), the commonest typo, which Levenshtein counts as two.
    Names whose numbers differ are never typos of each other."""
    if a == b or abs(len(a) - len(b)) > 1 or _DIGITS.findall(a) != _DIGITS.findall(b):
        # A different number is a series ("Module 1 Access", "Module 2 Access"), not a typo.
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = sorted((a, b), key=len)
    i = next((i for i, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short))
    return short[i:] == long[i + 1 :]


def near_duplicates(names: dict[int, str]) -> dict[int, set[int]]:
    """For each tag id, the other tags whose name is the same or one typo apart once case,
    spacing and dashes are ignored. Candidates share a one-letter-deleted key (a typo of
    either kind leaves one in common), so this is near-linear, not a comparison of all pairs."""
    normal = {pk: tag_name_normalised(name) for pk, name in names.items()}
    buckets: dict[str, set[int]] = defaultdict(set)
    for pk, text in normal.items():
        buckets[text].add(pk)
        for i in range(len(text)):
            buckets[text[:i] + text[i + 1 :]].add(pk)
    found: dict[int, set[int]] = defaultdict(set)
    for members in buckets.values():
        for a in members:
            for b in members:
                if a != b and (normal[a] == normal[b] or one_typo_apart(normal[a], normal[b])):
                    found[a].add(b)
    return found


def crm_uses_of_tag(tag_ids: Collection[int] | None) -> list[TagUse]:
    """Forms add their tags; Kit hooks and broadcasts that are still to go read them. Three
    queries (forms, hooks, broadcasts store tag ids in plain columns or JSON)."""
    uses = [
        TagUse(
            int(tag_id),
            Role.ADDS,
            f"form {form.name!r}",
            reverse("admin:crm_form_change", args=[form.pk]),
        )
        for form in Form.objects.only("pk", "name", "tag_ids")
        for tag_id in form.tag_ids or []
    ]
    hooks = Hook.objects.filter(tag_id__isnull=False, active=True)
    if tag_ids is not None:
        hooks = hooks.filter(tag_id__in=tag_ids)
    uses += [
        TagUse(
            hook.tag_id,
            Role.NEEDS,
            f"hook {hook.event_name} → {url_origin(hook.target_url)}",
            reverse("admin:crm_hook_change", args=[hook.pk]),
        )
        for hook in hooks
    ]
    for broadcast in Broadcast.objects.exclude(status=BroadcastStatus.COMPLETED).filter(
        condition__isnull=False
    ):
        if not broadcast.condition:
            continue  # an empty audience is everyone: no tag involved
        url = reverse("admin:crm_broadcast_change", args=[broadcast.pk])
        uses += [
            TagUse(tag_id, Role.NEEDS, f"audience of broadcast {broadcast.subject!r}", url)
            for tag_id in condition_tag_ids(broadcast.condition)
        ]
    return uses


def _seen_via(source: str) -> str | None:
    return SEEN_VIA.get(source.split(":", 1)[0])


def tag_map_rows() -> list[TagMapRow]:
    """Every tag, grouped by name prefix, with its uses and warnings."""
    rows = {tag.pk: TagMapRow(tag=tag, group=tag_name_group(tag.name)) for tag in Tag.objects.all()}
    seen: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts = Tagging.objects.order_by().values_list("tag_id", "source").annotate(n=Count("pk"))
    for tag_id, source, n in counts:
        if tag_id not in rows:
            continue  # a tag created since the first query: on the next view
        rows[tag_id].subscribers += n
        via = _seen_via(source)
        if via:
            seen[tag_id][via] += n
    for use in tag_uses_all():
        row = rows.get(use.tag_id)
        if row is not None:
            {Role.ADDS: row.adds, Role.NEEDS: row.needs, Role.REMOVES: row.removes}[
                use.role
            ].append(use)
    similar = near_duplicates({pk: row.tag.name for pk, row in rows.items()})
    for pk, row in rows.items():
        row.seen_via = sorted(seen[pk].items())
        row.warnings = _warnings(row, [rows[other].tag.name for other in similar.get(pk, ())])
    return sorted(
        rows.values(), key=lambda r: (r.group == NO_GROUP, r.group.casefold(), r.tag.name_key)
    )


def _warnings(row: TagMapRow, similar_names: Iterable[str]) -> list[str]:
    warnings = [f"Looks like {name!r}." for name in sorted(similar_names, key=str.casefold)]
    if not (row.adds or row.needs or row.removes):
        warnings.append("Nothing adds or uses this tag.")
    elif row.needs and not row.adds and not row.seen_via:
        warnings.append("Needed, but nothing adds it.")
    return warnings


def tag_map_groups(rows: list[TagMapRow]) -> list[tuple[str, list[TagMapRow]]]:
    grouped: dict[str, list[TagMapRow]] = {}
    for row in rows:
        grouped.setdefault(row.group, []).append(row)
    return list(grouped.items())


CSV_HEADER = [
    "group",
    "tag",
    "tag_id",
    "subscribers",
    "added_by",
    "seen_via",
    "depended_on_by",
    "removed_by",
    "warnings",
]


def _cell(value) -> str:
    # A spreadsheet runs a cell that starts like a formula; a tag name is typed by anyone.
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def tag_map_csv(rows: list[TagMapRow]) -> str:
    """The map's rows as CSV, one line per tag, lists joined with " | "."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in rows:
        cells = [
            row.group,
            row.tag.name,
            row.tag.pk,
            row.subscribers,
            " | ".join(u.text for u in row.adds),
            " | ".join(f"{via} ({n})" for via, n in row.seen_via),
            " | ".join(u.text for u in row.needs),
            " | ".join(u.text for u in row.removes),
            " | ".join(row.warnings),
        ]
        writer.writerow([_cell(c) for c in cells])
    return out.getvalue()

"""The verbs that change tags and taggings.

Adding a tag the subscriber already has, or removing one they lack, changes nothing and emits
nothing (as in Kit). Both paths are set-based: one ``INSERT ... ON CONFLICT DO NOTHING
RETURNING`` (or ``DELETE ... RETURNING``) per chunk tells exactly which rows changed, even
under concurrent writers, and events are written only for those. A single add is the same
code path with one pair.
"""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.crm.events import events_record_bulk
from apps.crm.models import Form, Subscriber

from .dependents import tag_dependents
from .event_types import TAG_ADD, TAG_REMOVE
from .models import Tag, Tagging

TAGGING_CHUNK_SIZE = 500

# Apps above tags that must act on new taggings inside the same transaction (an offering's
# Revoke Access tag ends the grant at once: tags are permissions, the grant must agree), not
# later through the event dispatcher. Each gets the (subscriber_id, tag_id) pairs that are new.
_ADDED_IN_TRANSACTION: dict[str, Callable[[list[tuple[int, int]], str], None]] = {}


def taggings_added_hook_register(
    *, name: str, handle: Callable[[list[tuple[int, int]], str], None]
) -> None:
    _ADDED_IN_TRANSACTION[name] = handle


TAG_NAME_MAX = 255
SOURCE_MAX = 64


def tag_name_clean(name: str) -> str:
    """Fold surrounding and repeated white space; refuse a blank or over-long name."""
    cleaned = " ".join((name or "").split()) if isinstance(name, str) else ""
    if not cleaned:
        raise ValidationError("A tag needs a name.", code="tag_name_blank")
    if len(cleaned) > TAG_NAME_MAX:
        raise ValidationError(
            f"A tag name can be at most {TAG_NAME_MAX} characters.", code="tag_name_too_long"
        )
    return cleaned


# Hyphen, en dash, em dash, and the other dashes a keyboard or a word processor puts in.
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−﹘﹣－"})
_AROUND_DASH = re.compile(r" ?- ?")


def tag_name_fold(text: str) -> str:
    """What identifies a name, or part of one: case, the dash family and the spaces around
    a dash ignored, so "Course - Purchase Success" is "Course – Purchase Success" (offerings
    name their tags with an en dash; a keyboard types a hyphen)."""
    folded = " ".join(text.casefold().translate(_DASHES).split())
    return _AROUND_DASH.sub("-", folded)


def tag_name_key(name: str) -> str:
    return tag_name_fold(tag_name_clean(name))


@transaction.atomic
def tag_get_or_create(*, name: str) -> tuple[Tag, bool]:
    cleaned = tag_name_clean(name)
    return Tag.objects.get_or_create(name_key=tag_name_fold(cleaned), defaults={"name": cleaned})


@transaction.atomic
def tag_create(*, name: str) -> Tag:
    """Create a tag; a name that differs from an existing one only in case, spacing or the
    kind of dash is the same tag and is refused."""
    tag, created = tag_get_or_create(name=name)
    if not created:
        raise ValidationError(f"A tag named {tag.name!r} already exists.", code="tag_exists")
    return tag


@transaction.atomic
def tag_rename(*, tag: Tag, name: str) -> Tag:
    cleaned = tag_name_clean(name)
    if Tag.objects.filter(name_key=tag_name_fold(cleaned)).exclude(pk=tag.pk).exists():
        raise ValidationError(f"A tag named {cleaned!r} already exists.", code="tag_exists")
    tag.name, tag.name_key = cleaned, tag_name_fold(cleaned)
    try:
        with transaction.atomic():
            tag.save(update_fields=["name", "name_key"])
    except IntegrityError:
        raise ValidationError(
            f"A tag named {cleaned!r} already exists.", code="tag_exists"
        ) from None
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag, source: str = "admin") -> None:
    """Delete a tag nothing depends on, first removing it from everyone so that each removal
    is an event."""
    used_by = tag_dependents(tag.pk)
    if used_by:
        raise ValidationError(
            f"{tag.name!r} is in use and cannot be deleted: " + "; ".join(used_by) + "."
        )
    subscriber_ids = list(tag.taggings.values_list("subscriber_id", flat=True))
    tag_bulk_remove(tag=tag, subscriber_ids=subscriber_ids, source=source)
    tag.delete()


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Tag names by id, kept while a memo is open (the engine opens one around a chunk of runs,
# whose steps would otherwise look the same tag's name up for every event they write).
_NAMES_MEMO: ContextVar[dict[int, str] | None] = ContextVar("tessera_tag_names", default=None)


# Other lookups the taggings hooks make (an offering's revoke tags), kept with the names.
_HOOKS_MEMO: ContextVar[dict[str, object] | None] = ContextVar("tessera_tag_hooks", default=None)


@contextmanager
def tag_names_memo() -> Iterator[None]:
    """Remember tag names (and the taggings hooks' lookups) inside the block (a rename
    inside it is not seen; keep the block to one transaction's worth of work)."""
    if _NAMES_MEMO.get() is not None:
        yield
        return
    token, hooks_token = _NAMES_MEMO.set({}), _HOOKS_MEMO.set({})
    try:
        yield
    finally:
        _NAMES_MEMO.reset(token)
        _HOOKS_MEMO.reset(hooks_token)


def tag_memo(key: str, load: Callable[[], object]) -> object:
    """``load()`` once per ``tag_names_memo`` block (every time outside one): a taggings
    hook's lookup, so a chunk of a thousand runs adding tags costs one query, not a thousand."""
    memo = _HOOKS_MEMO.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def _tag_names(tag_ids: set[int]) -> dict[int, str]:
    memo = _NAMES_MEMO.get()
    if memo is None:
        return dict(Tag.objects.filter(pk__in=tag_ids).values_list("pk", "name"))
    missing = tag_ids - memo.keys()
    if missing:
        memo.update(Tag.objects.filter(pk__in=missing).values_list("pk", "name"))
    return memo


def _tag_events(
    changed: list[tuple[int, int]], *, event_type: str, source: str
) -> list[tuple[int, str, dict]]:
    names = _tag_names({t for _, t in changed})
    return [
        (sid, event_type, {"tag_id": tid, "tag_name": names.get(tid, ""), "source": source})
        for sid, tid in changed
    ]


def _dedupe(pairs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Unique pairs in a fixed order: two bulk writes over overlapping rows then lock them in
    the same order and cannot deadlock."""
    return sorted({(int(s), int(t)) for s, t in pairs})


# savepoint=False: nested in a caller's transaction (an automation step, an import batch) these
# are all-or-nothing with it, and a savepoint would cost two round trips per call.
@transaction.atomic(savepoint=False)
def taggings_add(*, pairs: Iterable[tuple[int, int]], source: str) -> list[tuple[int, int]]:
    """Add (subscriber_id, tag_id) pairs; return the pairs that were new, each now an event."""
    pairs = _dedupe(pairs)
    source = (source or "")[:SOURCE_MAX]
    table = Tagging._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    added: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(pairs, TAGGING_CHUNK_SIZE):
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            params = [p for sid, tid in chunk for p in (sid, tid, now, source)]
            cursor.execute(
                f"INSERT INTO {table} (subscriber_id, tag_id, created_at, source) "
                f"VALUES {values} ON CONFLICT (subscriber_id, tag_id) DO NOTHING "
                "RETURNING subscriber_id, tag_id",
                params,
            )
            added.extend((sid, tid) for sid, tid in cursor.fetchall())
    if added:
        events_record_bulk(events=_tag_events(added, event_type=TAG_ADD, source=source))
        for handle in _ADDED_IN_TRANSACTION.values():
            handle(added, source)
    return added


@transaction.atomic(savepoint=False)
def taggings_remove(*, pairs: Iterable[tuple[int, int]], source: str) -> list[tuple[int, int]]:
    """Remove (subscriber_id, tag_id) pairs; return the pairs that existed, each now an event."""
    by_tag: dict[int, list[int]] = defaultdict(list)
    for sid, tid in sorted(_dedupe(pairs), key=lambda p: (p[1], p[0])):
        by_tag[tid].append(sid)
    table = Tagging._meta.db_table
    removed: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        for tid, subscriber_ids in by_tag.items():
            for chunk in _chunks(subscriber_ids, TAGGING_CHUNK_SIZE):
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"DELETE FROM {table} WHERE tag_id = %s AND subscriber_id IN ({marks}) "
                    "RETURNING subscriber_id, tag_id",
                    [tid, *chunk],
                )
                removed.extend((sid, t) for sid, t in cursor.fetchall())
    if removed:
        events_record_bulk(events=_tag_events(removed, event_type=TAG_REMOVE, source=source))
    return removed


def subscriber_tag_add(*, subscriber: Subscriber, tag: Tag, source: str) -> bool:
    """Tag one subscriber; True if the tag is new to them."""
    return bool(taggings_add(pairs=[(subscriber.pk, tag.pk)], source=source))


@transaction.atomic
def subscriber_tag_add_by_name(
    *, subscriber: Subscriber, name: str, source: str
) -> tuple[Tag, bool, bool]:
    """Tag one subscriber with the tag named ``name``, made if new; the new tag is only kept
    with its tagging (one transaction). Returns (tag, created, added)."""
    tag, created = tag_get_or_create(name=name)
    return tag, created, subscriber_tag_add(subscriber=subscriber, tag=tag, source=source)


@transaction.atomic
def form_tags_save(*, form: Form, tag_names: list[str]) -> Form:
    """Save a sign-up form with the tags named (cleaned names; a new name makes the tag), the
    tags and the form in one transaction: the admin's form page."""
    form.tag_ids = [tag_get_or_create(name=name)[0].pk for name in tag_names]
    form.save()
    return form


def subscriber_tag_remove(*, subscriber: Subscriber, tag: Tag, source: str) -> bool:
    """Untag one subscriber; True if they had the tag."""
    return bool(taggings_remove(pairs=[(subscriber.pk, tag.pk)], source=source))


def tag_bulk_add(*, tag: Tag, subscriber_ids: Iterable[int], source: str) -> int:
    """Tag many subscribers in a bounded number of queries; return how many were new."""
    return len(taggings_add(pairs=[(sid, tag.pk) for sid in subscriber_ids], source=source))


def tag_bulk_remove(*, tag: Tag, subscriber_ids: Iterable[int], source: str) -> int:
    return len(taggings_remove(pairs=[(sid, tag.pk) for sid in subscriber_ids], source=source))

"""The tags side of crm's CSV import: tag names from a file become tags and taggings in bulk.

Registered with ``apps.crm.imports.services.import_tagger_register`` in ``TagsConfig.ready()``.
"""

from collections.abc import Iterable

from django.db import transaction

from .models import Tag
from .services import tag_name_clean, tag_name_key, taggings_add


@transaction.atomic(savepoint=False)
def tags_get_or_create_by_names(*, names: Iterable[str]) -> dict[str, Tag]:
    """The tags with these names by name key, creating the missing ones, in two queries."""
    cleaned = {tag_name_key(name): tag_name_clean(name) for name in names}
    if not cleaned:
        return {}
    # ON CONFLICT DO NOTHING: a tag created meanwhile by someone else is simply found below.
    Tag.objects.bulk_create(
        [Tag(name=name, name_key=key) for key, name in cleaned.items()], ignore_conflicts=True
    )
    return {tag.name_key: tag for tag in Tag.objects.filter(name_key__in=list(cleaned))}


def import_tags_apply(*, pairs: list[tuple[int, str]], source: str) -> list[tuple[int, int]]:
    """Tag subscribers by tag name: (subscriber id, name) pairs; return the new taggings."""
    tags = tags_get_or_create_by_names(names={name for _sid, name in pairs})
    return taggings_add(
        pairs=[(sid, tags[tag_name_key(name)].pk) for sid, name in pairs], source=source
    )

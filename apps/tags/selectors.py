"""Reads of tags: the suggestions a tag name input shows as it is typed."""

from .models import Tag
from .services import tag_name_fold

SUGGESTIONS_MAX = 20
# Matches read before ranking: enough that the exact and prefix matches are among them.
SUGGESTIONS_SCAN = 200


def tags_suggest(*, text: str, limit: int = SUGGESTIONS_MAX) -> tuple[list[Tag], Tag | None]:
    """Tags whose name contains ``text`` once case, spacing and dashes are folded (the exact
    name first, then those that start with it, then the rest, alphabetically), and the tag
    ``text`` names exactly, if any (else the name would create a new tag). Two queries."""
    key = tag_name_fold(text or "")
    if not key:
        return [], None
    exact = Tag.objects.filter(name_key=key).first()
    found = list(Tag.objects.filter(name_key__contains=key).order_by("name_key")[:SUGGESTIONS_SCAN])
    found.sort(key=lambda tag: (tag.name_key != key, not tag.name_key.startswith(key)))
    return found[:limit], exact

"""Remove tag: the subscriber loses a tag (the add-tag step, undoing)."""

from apps.tags.dependents import Role

from .add_tag import TagKind


class RemoveTagKind(TagKind):
    adding: bool = False


KIND = RemoveTagKind("remove_tag", "Remove tag", tag_settings=("tag_id",), tag_role=Role.REMOVES)

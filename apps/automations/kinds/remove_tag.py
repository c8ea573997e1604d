"""Remove tag: the subscriber loses a tag."""

from apps.tags.dependents import Role

from .add_tag import TagKind
from .base import DryOutcome


class RemoveTagKind(TagKind):
    adding: bool = False

    def summary(self, settings, ctx):
        return f"Remove tag {ctx['tag_names'].get(settings['tag_id'], '?')!r}"

    def dry_run(self, settings, state):
        had = settings["tag_id"] in state.tag_ids
        state.tag_ids.discard(settings["tag_id"])
        verb = "would remove" if had else "does not have"
        return DryOutcome(f"{verb} {state.tag_name(settings['tag_id'])}")

    def chain_links(self, settings, link):
        pass


KIND = RemoveTagKind("remove_tag", "Remove tag", tag_settings=("tag_id",), tag_role=Role.REMOVES)

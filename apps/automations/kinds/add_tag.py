"""Add tag: the subscriber gets a tag (the remove-tag kind is the same step, undoing)."""

from apps.tags.dependents import Role
from apps.tags.services import taggings_add, taggings_remove

from ..lint import LintMessage
from .base import DryOutcome, Field, NodeKind, Outcome
from .settings import step_source, tag_id_from, tag_setting, unknown_check


class TagKind(NodeKind):
    adding: bool = True

    def clean(self, settings):
        unknown_check(settings, {"tag_id"})
        return {"tag_id": tag_setting(settings)}

    def arrive(self, ctx):
        pair = [(ctx.run.subscriber_id, ctx.node.settings["tag_id"])]
        if self.adding:
            changed = taggings_add(pairs=pair, source=step_source(ctx))
            return Outcome(detail="tag added" if changed else "already had the tag")
        changed = taggings_remove(pairs=pair, source=step_source(ctx))
        return Outcome(detail="tag removed" if changed else "did not have the tag")

    def form_fields(self, settings, ctx):
        return [Field("tag", "Tag", "tag", ctx["tag_names"].get(settings.get("tag_id"), ""))]

    def settings_from_form(self, data):
        return {"tag_id": tag_id_from(data.get("tag"), "Tag")}

    def summary(self, settings, ctx):
        verb = "Add" if self.adding else "Remove"
        return f"{verb} tag {ctx['tag_names'].get(settings['tag_id'], '?')!r}"

    def dry_run(self, settings, state):
        tag_id = settings["tag_id"]
        had = tag_id in state.tag_ids
        if self.adding:
            state.tag_ids.add(tag_id)
            verb = "already has" if had else "would add"
        else:
            state.tag_ids.discard(tag_id)
            verb = "would remove" if had else "does not have"
        return DryOutcome(f"{verb} {state.tag_name(tag_id)}")

    def chain_links(self, settings, link):
        if self.adding:
            link["adds"].add(settings.get("tag_id"))


def lint_adds_the_entry_tag(node, ctx):
    tag_id = node.settings.get("tag_id")
    if tag_id in ctx.entry_tags:
        yield LintMessage(
            f"This step adds {ctx.name(tag_id)!r}, the tag that starts this automation: it "
            "cannot re-enter while the run is active, so nothing happens now, and the "
            "tag stays on for good.",
            node_id=node.pk,
        )


def lint_release_tag_never_removed(node, ctx):
    tag_id = node.settings.get("tag_id")
    if tag_id in ctx.release_tags and tag_id not in ctx.removed:
        yield LintMessage(
            f"{ctx.name(tag_id)!r} fires the Release Offering webhook of "
            f"{ctx.release_tags[tag_id]!r}, but this flow never removes it: add a Remove tag "
            "step after the release (access granted), so the tag can fire again later.",
            node_id=node.pk,
        )


KIND = TagKind(
    "add_tag",
    "Add tag",
    tag_settings=("tag_id",),
    tag_role=Role.ADDS,
    lint_rules=(lint_adds_the_entry_tag, lint_release_tag_never_removed),
)

"""Start another automation for the subscriber."""

from .base import Field, NodeKind, Outcome
from .settings import automation_setting, unknown_check


class OtherAutomationKind(NodeKind):
    """A step about another automation: its setting, form and summary."""

    verb = ""

    def clean(self, settings):
        unknown_check(settings, {"automation_id"})
        return {"automation_id": automation_setting(settings)}

    def form_fields(self, settings, ctx):
        return [
            Field(
                "automation_id",
                "Automation",
                "select",
                settings.get("automation_id", ""),
                ctx["automation_choices"],
            )
        ]

    def settings_from_form(self, data):
        return {"automation_id": data.get("automation_id", "")}

    def summary(self, settings, ctx):
        name = ctx["automation_names"].get(settings["automation_id"], "?")
        return f"{self.verb} {name!r}"


class StartAutomationKind(OtherAutomationKind):
    verb = "Start"

    def arrive(self, ctx):
        from ..engine import runs_start
        from ..models import Automation

        target = Automation.objects.get(pk=ctx.node.settings["automation_id"])
        started = runs_start(
            automation=target,
            subscriber_ids=[ctx.run.subscriber_id],
            chain_depth=ctx.run.chain_depth + 1,
        )
        return Outcome(
            detail=f"started {target.name!r}"
            if started
            else f"did not start {target.name!r} (status or re-entry rule)"
        )

    def chain_links(self, settings, link):
        link["starts"].add(settings.get("automation_id"))


KIND = StartAutomationKind(
    "start_automation", "Start another automation", automation_settings=("automation_id",)
)

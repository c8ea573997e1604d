"""Remove from another automation: end the subscriber's run there."""

from .base import Outcome
from .start_automation import OtherAutomationKind


class RemoveFromAutomationKind(OtherAutomationKind):
    verb = "Remove from"

    def arrive(self, ctx):
        from ..engine import runs_exit

        exited = runs_exit(
            subscriber_ids=[ctx.run.subscriber_id],
            automation_id=ctx.node.settings["automation_id"],
            reason=f"removed by {ctx.automation.name!r}",
        )
        return Outcome(
            detail="removed from the other automation"
            if exited
            else "was not in the other automation"
        )


KIND = RemoveFromAutomationKind(
    "remove_from_automation",
    "Remove from another automation",
    automation_settings=("automation_id",),
)

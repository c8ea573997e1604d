"""Exit this automation: the run ends here, as exited."""

from .base import DryOutcome, NodeKind, Outcome


class FinalKind(NodeKind):
    """A step that ends the run: nothing after it on its path is reached."""

    finish = ""
    # The step's name in the lint's "Never reached: it comes after the ... step".
    final_name = ""
    detail = ""

    def arrive(self, ctx):
        return Outcome(finish=self.finish, detail=self.detail)

    def dry_run(self, settings, state):
        return DryOutcome("the run would end here", ending=self.finish)


class ExitKind(FinalKind):
    finish = "exited"
    final_name = "Exit"
    detail = "exited this automation"


KIND = ExitKind("exit", "Exit this automation", final=True)

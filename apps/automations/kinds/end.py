"""End: the run completes here."""

from .exit import FinalKind


class EndKind(FinalKind):
    finish = "completed"
    final_name = "End"
    detail = "end of automation"


KIND = EndKind("end", "End", final=True)

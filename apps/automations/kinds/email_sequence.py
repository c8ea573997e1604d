"""Email sequence: add the subscriber to a sequence and wait until they complete or leave it,
as Kit's visual automations do. The consumer here wakes the runs waiting at such a step."""

from django.utils import timezone

from apps.crm.event_types import COURSE_CANCEL, COURSE_COMPLETE, COURSE_HOLD
from apps.crm.messaging.sequences import sequence_place, sequence_subscribe
from apps.crm.models import Sequence

from ..engine import sweep_kick_on_commit
from ..models import Run, RunStatus
from .base import DryOutcome, Field, NodeKind, Outcome, SettingsError
from .settings import int_setting, unknown_check


class EmailSequenceKind(NodeKind):
    """Adds the subscriber to a sequence and waits until they complete or leave it, as Kit's
    visual automations do."""

    def clean(self, settings):
        unknown_check(settings, {"sequence_id"})
        sequence_id = int_setting(settings, "sequence_id")
        if not Sequence.objects.filter(pk=sequence_id).exists():
            raise SettingsError("sequence_id", f"no sequence has id {sequence_id}")
        return {"sequence_id": sequence_id}

    def arrive(self, ctx):
        sequence = Sequence.objects.get(pk=ctx.node.settings["sequence_id"])
        started = sequence_subscribe(
            subscriber=ctx.run.subscriber,
            sequence=sequence,
            source=f"automation:{ctx.automation.pk}",
        )
        place = sequence_place(subscriber=ctx.run.subscriber, sequence=sequence)
        # Nothing would wake a run waiting on a sequence the subscriber will not go through
        # (again): say why and move on instead of stranding it.
        if not started and place == "completed":
            return Outcome(
                detail=f"had completed {sequence.name!r} before; Repeat is off, so not again"
            )
        if place == "on hold":
            return Outcome(detail=f"on hold at the end of {sequence.name!r}")
        return Outcome(wait=True, detail=f"in sequence {sequence.name!r}")

    def resume(self, ctx):
        return Outcome(detail="sequence finished")

    def form_fields(self, settings, ctx):
        return [
            Field(
                "sequence_id",
                "Sequence",
                "select",
                settings.get("sequence_id", ""),
                ctx["sequence_choices"],
            )
        ]

    def settings_from_form(self, data):
        return {"sequence_id": data.get("sequence_id", "")}

    def summary(self, settings, ctx):
        return f"Email sequence {ctx['sequence_names'].get(settings['sequence_id'], '?')!r}"

    def dry_run(self, settings, state):
        return DryOutcome(
            "would wait here for the sequence to finish", ending="waiting", waits=True
        )


def on_sequence_finished(events) -> None:
    """Wake runs waiting at an email-sequence step when its sequence is completed or left."""
    finished = {(e.subscriber_id, e.payload.get("sequence_id")) for e in events if e.subscriber_id}
    waiting = list(
        Run.objects.filter(
            subscriber_id__in={s for s, _ in finished},
            status=RunStatus.WAITING,
            arrived=True,
            current_node__kind=KIND.key,
        ).select_related("current_node")
    )
    woken = [
        r
        for r in waiting
        if (r.subscriber_id, r.current_node.settings.get("sequence_id")) in finished
    ]
    if woken:
        Run.objects.filter(pk__in=[r.pk for r in woken]).update(resume_at=timezone.now())
        sweep_kick_on_commit()


# Passed here, not as a class attribute: the dataclass's own default would replace it, and
# the JSON format could not name the sequence.
KIND = EmailSequenceKind("email_sequence", "Email sequence", sequence_settings=("sequence_id",))


def register_consumer() -> None:
    from apps.crm.dispatch import consumer_register

    consumer_register(
        name="automations.sequence_finished",
        handle=on_sequence_finished,
        # On hold at the end of a Hold sequence counts as finished for the flow: Kit keeps such
        # people "on hold" in the automation, blocking it; here the flow moves on and the
        # subscriber still gets emails published later.
        event_types=[COURSE_COMPLETE, COURSE_CANCEL, COURSE_HOLD],
    )

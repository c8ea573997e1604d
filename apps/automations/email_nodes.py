"""Kit's email actions as step kinds: "send email" and "email sequence". They plug into the
kind registry like any other; the engine knows nothing of email."""

from django.utils import timezone

from apps.crm.event_types import COURSE_CANCEL, COURSE_COMPLETE, COURSE_HOLD
from apps.crm.liquid import TemplateError, template_check
from apps.crm.messaging.outbox import emails_enqueue
from apps.crm.messaging.rendering import Draft
from apps.crm.messaging.sequences import sequence_place, sequence_subscribe
from apps.crm.models import BodyFormat, EmailKind, EmailMessage, EmailStatus, Sequence

from .engine import sweep_kick_on_commit
from .kinds import NodeKind, Outcome, SettingsError, kind_register
from .models import Run, RunStatus
from .nodes import _int_setting, _unknown

SUBJECT_MAX = 255


class SendEmailKind(NodeKind):
    """One email, rendered with Liquid when the run arrives. ``purchase``: about something
    the subscriber bought (keeps flowing after an unsubscribe if they asked to keep those)."""

    def clean(self, settings):
        _unknown(settings, {"subject", "body", "purchase", "format", "track_clicks", "track_opens"})
        subject, body = settings.get("subject"), settings.get("body")
        if not isinstance(subject, str) or not subject.strip():
            raise SettingsError("subject", "an email needs a subject")
        if len(subject) > SUBJECT_MAX:
            raise SettingsError("subject", f"at most {SUBJECT_MAX} characters")
        if not isinstance(body, str) or not body.strip():
            raise SettingsError("body", "an email needs a body")
        for name, source in (("subject", subject), ("body", body)):
            try:
                template_check(source)
            except TemplateError as exc:
                raise SettingsError(name, str(exc)) from None
        body_format = settings.get("format") or BodyFormat.MARKDOWN
        if body_format not in BodyFormat.values:
            raise SettingsError("format", f"one of {', '.join(BodyFormat.values)}")
        return {
            "subject": subject,
            "body": body,
            "purchase": bool(settings.get("purchase")),
            "format": body_format,
            "track_clicks": bool(settings.get("track_clicks", True)),
            "track_opens": bool(settings.get("track_opens", False)),
        }

    def arrive(self, ctx):
        key = f"run:{ctx.run.pk}:step:{ctx.run.steps_logged + 1}"
        settings = ctx.node.settings
        emails_enqueue(
            [
                Draft(
                    subscriber=ctx.run.subscriber,
                    key=key,
                    kind=EmailKind.AUTOMATION,
                    subject=settings["subject"],
                    body=settings["body"],
                    is_marketing=not settings.get("purchase"),
                    body_format=settings.get("format") or BodyFormat.MARKDOWN,
                    track_clicks=settings.get("track_clicks", True),
                    track_opens=settings.get("track_opens", False),
                )
            ]
        )
        pk, status, error = (
            EmailMessage.objects.filter(key=key).values_list("pk", "status", "error").get()
        )
        if status == EmailStatus.HELD:
            # The run moves on; the email waits in the outbox and the hold sweep sends it
            # once it renders (the login exists), or a creator releases or cancels it.
            return Outcome(held=True, detail=f"held: {error} (email #{pk})")
        return Outcome(detail=f"email #{pk} queued")


class EmailSequenceKind(NodeKind):
    """Adds the subscriber to a sequence and waits until they complete or leave it, as Kit's
    visual automations do."""

    def clean(self, settings):
        _unknown(settings, {"sequence_id"})
        sequence_id = _int_setting(settings, "sequence_id")
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


def on_sequence_finished(events) -> None:
    """Wake runs waiting at an email-sequence step when its sequence is completed or left."""
    finished = {(e.subscriber_id, e.payload.get("sequence_id")) for e in events if e.subscriber_id}
    waiting = list(
        Run.objects.filter(
            subscriber_id__in={s for s, _ in finished},
            status=RunStatus.WAITING,
            arrived=True,
            current_node__kind="email_sequence",
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


def register() -> None:
    from apps.crm.dispatch import consumer_register

    kind_register(SendEmailKind("send_email", "Send email"))
    # Passed here, not as a class attribute: the dataclass's own default would replace it,
    # and the JSON format could not name the sequence.
    kind_register(
        EmailSequenceKind("email_sequence", "Email sequence", sequence_settings=("sequence_id",))
    )
    consumer_register(
        name="automations.sequence_finished",
        handle=on_sequence_finished,
        # On hold at the end of a Hold sequence counts as finished for the flow: Kit keeps such
        # people "on hold" in the automation, blocking it; here the flow moves on and the
        # subscriber still gets emails published later.
        event_types=[COURSE_COMPLETE, COURSE_CANCEL, COURSE_HOLD],
    )

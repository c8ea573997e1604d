"""Building and editing automations: the verbs the admin, the importer and the API call."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from .engine import steps_log_where_they_stand, sweep_kick_on_commit
from .graph import graph_load
from .kinds import SettingsError, kind_get, node_settings_clean
from .kinds.event_spec import event_spec_clean, trigger_settings_from_form
from .lock_objects import run_for_advance, runs_at_nodes
from .models import (
    ACTIVE_RUN_STATUSES,
    Automation,
    AutomationStatus,
    Branch,
    Node,
    Reentry,
    Run,
    RunStatus,
    StepOutcome,
    Trigger,
)


def _settings_error(exc: SettingsError, where: str = "") -> ValidationError:
    prefix = f"{where}: " if where else ""
    return ValidationError(f"{prefix}{exc}", code="invalid_settings", params={"field": exc.field})


@transaction.atomic
def automation_create(
    *,
    name: str,
    status: str = AutomationStatus.DRAFT,
    reentry: str = Reentry.AFTER_FINISH,
    description: str = "",
    wait_warn_days: int | None = None,
) -> Automation:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("An automation needs a name.", code="name_blank")
    if Automation.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"An automation named {name!r} already exists.", code="name_taken")
    if status not in AutomationStatus.values:
        raise ValidationError(f"Unknown status {status!r}.", code="status_invalid")
    if reentry not in Reentry.values:
        raise ValidationError(f"Unknown re-entry rule {reentry!r}.", code="reentry_invalid")
    return Automation.objects.create(
        name=name,
        status=status,
        reentry=reentry,
        description=description,
        wait_warn_days=_wait_warn_days(wait_warn_days),
    )


# A limit past a year and a half is a typo, not a plan.
WAIT_WARN_DAYS_MAX = 540


def _wait_warn_days(days) -> int | None:
    if days in (None, ""):
        return None
    try:
        days = int(str(days).strip())
    except ValueError:
        raise ValidationError(
            f"Warn after days must be a whole number of days, got {days!r}.",
            code="wait_warn_days_invalid",
        ) from None
    if not 1 <= days <= WAIT_WARN_DAYS_MAX:
        raise ValidationError(
            f"Warn after days must be between 1 and {WAIT_WARN_DAYS_MAX} (or empty: never).",
            code="wait_warn_days_invalid",
        )
    return days


@transaction.atomic
def automation_update(
    *,
    automation: Automation,
    name: str,
    reentry: str,
    description: str = "",
    wait_warn_days: int | None | str = "keep",
) -> Automation:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("An automation needs a name.", code="name_blank")
    if Automation.objects.filter(name__iexact=name).exclude(pk=automation.pk).exists():
        raise ValidationError(f"An automation named {name!r} already exists.", code="name_taken")
    if reentry not in Reentry.values:
        raise ValidationError(f"Unknown re-entry rule {reentry!r}.", code="reentry_invalid")
    automation.name, automation.reentry, automation.description = name, reentry, description
    if wait_warn_days != "keep":
        automation.wait_warn_days = _wait_warn_days(wait_warn_days)
    automation.save(
        update_fields=["name", "reentry", "description", "wait_warn_days", "updated_at"]
    )
    return automation


@transaction.atomic
def automation_set_status(*, automation: Automation, status: str) -> Automation:
    """Live: people enter and move. Paused: they enter and queue. Draft: neither. Going live
    releases everything that queued while paused at once."""
    if status not in AutomationStatus.values:
        raise ValidationError(f"Unknown status {status!r}.", code="status_invalid")
    automation.status = status
    automation.save(update_fields=["status", "updated_at"])
    if status == AutomationStatus.LIVE:
        sweep_kick_on_commit()
    return automation


@transaction.atomic
def trigger_save(
    *, automation: Automation, settings: dict, trigger: Trigger | None = None
) -> Trigger:
    """Add an entry point (or change ``trigger``), e.g. ``{"event_type": "tag_add",
    "tag_id": 3}``; the spec is validated as an event step's is."""
    try:
        cleaned = event_spec_clean(settings if isinstance(settings, dict) else {})
    except SettingsError as exc:
        raise _settings_error(exc, "entry trigger") from None
    trigger = trigger or Trigger(automation=automation)
    trigger.tag_id = cleaned.pop("tag_id", None)
    trigger.event_type = cleaned.pop("event_type")
    trigger.params = cleaned
    trigger.save()
    return trigger


def trigger_add(*, automation: Automation, settings: dict) -> Trigger:
    return trigger_save(automation=automation, settings=settings)


@transaction.atomic
def trigger_delete(*, trigger: Trigger) -> None:
    trigger.delete()


def _next_position(automation: Automation, parent: Node | None, branch: str) -> int:
    top = Node.objects.filter(automation=automation, parent=parent, branch=branch).aggregate(
        top=Max("position")
    )["top"]
    return 0 if top is None else top + 1


@transaction.atomic
def node_create(
    *,
    automation: Automation,
    kind: str,
    settings: dict | None = None,
    parent: Node | None = None,
    branch: str = "",
    position: int | None = None,
    label: str = "",
) -> Node:
    """Add a step to a lane (the main lane, or a condition's ``yes`` / ``no`` lane), at
    ``position`` (later steps shift down) or at the end."""
    if parent is not None:
        if parent.automation_id != automation.pk:
            raise ValidationError("The parent step belongs to another automation.")
        if not kind_get(parent.kind).has_branches:
            raise ValidationError(f"A {parent.kind} step has no branches to add a step to.")
        if branch not in (Branch.YES, Branch.NO):
            raise ValidationError("A step inside a condition goes in its 'yes' or 'no' branch.")
    elif branch:
        raise ValidationError("Only steps inside a condition have a branch.")
    try:
        cleaned = node_settings_clean(kind, settings or {})
    except SettingsError as exc:
        raise _settings_error(exc, f"{kind} step") from None
    if position is None:
        position = _next_position(automation, parent, branch)
    else:
        Node.objects.filter(
            automation=automation, parent=parent, branch=branch, position__gte=position
        ).update(position=F("position") + 1)
    return Node.objects.create(
        automation=automation,
        parent=parent,
        branch=branch,
        position=position,
        kind=kind,
        settings=cleaned,
        label=label,
    )


@transaction.atomic
def node_update(
    *,
    node: Node,
    settings: dict,
    label: str | None = None,
    position: int | None = None,
) -> Node:
    """Change a step's settings, label or place in its lane. Not retroactive: runs already
    past it are unaffected; runs waiting at it keep their due time."""
    try:
        node.settings = node_settings_clean(node.kind, settings)
    except SettingsError as exc:
        raise _settings_error(exc, f"{node.kind} step") from None
    if label is not None:
        node.label = label
    if position is not None:
        node.position = position
    node.save(update_fields=["settings", "label", "position"])
    return node


@transaction.atomic
def node_delete(*, node: Node) -> int:
    """Delete a step (and, for a condition, both its branches). Runs waiting anywhere in what
    is deleted move on to the step that followed it, instead of being stranded as in Kit;
    each gets a log line saying so. Returns how many runs moved."""
    graph = graph_load(node.automation_id)
    doomed = set(graph.below(node.pk))
    successor = graph.after(node.pk)
    runs = list(runs_at_nodes(node_ids=doomed))
    now = timezone.now()
    steps_log_where_they_stand(
        runs,
        now=now,
        outcome=StepOutcome.SKIPPED,
        detail="step deleted while the run waited here; moved on to the next step",
    )
    for run in runs:
        run.current_node_id, run.arrived, run.resume_at = successor, False, now
        run.node_arrived_at, run.pending_detail = None, ""
    Run.objects.bulk_update(
        runs,
        [
            "current_node",
            "arrived",
            "resume_at",
            "node_arrived_at",
            "pending_detail",
            "steps_logged",
        ],
    )
    Node.objects.filter(pk__in=doomed).delete()
    if runs:
        sweep_kick_on_commit()
    return len(runs)


@transaction.atomic
def automation_delete(*, automation: Automation) -> None:
    if Run.objects.filter(automation=automation, status__in=ACTIVE_RUN_STATUSES).exists():
        raise ValidationError(
            "Subscribers are still in this automation; pause it and exit their runs first."
        )
    automation.delete()


@transaction.atomic
def automations_delete(*, automations) -> list[tuple[Automation, ValidationError]]:
    """Delete each automation that nobody is in (the admin's bulk delete); return the ones
    kept, each with why. Each deletion is its own savepoint, so one refusal keeps the rest."""
    refused = []
    for automation in automations:
        try:
            automation_delete(automation=automation)
        except ValidationError as exc:
            refused.append((automation, exc))
    return refused


@transaction.atomic
def run_skip_wait(*, run_id: int) -> Run:
    """A test subscriber's run moves past the delay it waits at, now: its due time becomes
    now under the run's row lock, and the sweep is rung. Refused for anyone else (real
    people's timers are the product) and for a run not waiting on a delay."""
    run = run_for_advance(run_id=run_id).select_related("current_node").first()
    if run is None:
        raise ValidationError(f"No run has id {run_id}.", code="run_missing")
    if not run.subscriber.is_test:
        raise ValidationError(
            f"{run.subscriber.email} is not a test subscriber; only test subscribers may skip "
            "a wait (tick “test subscriber” on their page first).",
            code="not_test_subscriber",
        )
    node = run.current_node
    if (
        run.status != RunStatus.WAITING
        or not run.arrived
        or node is None
        or not kind_get(node.kind).skippable_wait
    ):
        raise ValidationError(
            f"Run #{run.pk} is not waiting on a delay (it is {run.status}"
            f"{f' at {node}' if node else ''}); there is no wait to skip.",
            code="not_waiting_on_delay",
        )
    # A due time that changes is logged: the next step's log line says so.
    note = "wait skipped (test subscriber)"
    if run.resume_at:
        note += f"; it was due {run.resume_at:%Y-%m-%d %H:%M} UTC"
    run.pending_detail = "; ".join(filter(None, [run.pending_detail, note]))[:500]
    run.resume_at = timezone.now()
    run.save(update_fields=["resume_at", "pending_detail"])
    sweep_kick_on_commit()
    return run


# The builder's forms: each one service, one transaction (a tag a form names is created
# only if the step or entry is saved).


def _kind_for(kind_key: str):
    try:
        return kind_get(kind_key)
    except SettingsError as exc:
        raise _settings_error(exc, f"{kind_key} step") from None


@transaction.atomic
def node_create_from_form(
    *,
    automation: Automation,
    kind: str,
    data,
    parent: Node | None = None,
    branch: str = "",
    position: int | None = None,
    label: str = "",
) -> Node:
    """A step from the builder's "+" form: the kind reads its fields (tags by name, created
    if new), then ``node_create`` checks the settings."""
    return node_create(
        automation=automation,
        kind=kind,
        settings=_kind_for(kind).settings_from_form(data),
        parent=parent,
        branch=branch,
        position=position,
        label=label,
    )


@transaction.atomic
def node_update_from_form(*, node: Node, data, label: str | None = None) -> Node:
    return node_update(
        node=node, settings=_kind_for(node.kind).settings_from_form(data), label=label
    )


@transaction.atomic
def trigger_add_from_form(*, automation: Automation, data) -> Trigger:
    return trigger_save(automation=automation, settings=trigger_settings_from_form(data))


@transaction.atomic
def automation_change(
    *,
    automation: Automation,
    status: str = "",
    reentry: str = "",
    name: str | None = None,
    description: str | None = None,
    wait_warn_days: int | None | str = "keep",
) -> Automation:
    """One edit of an automation's settings (the builder's status bar, the admin's form): a
    new status (``automation_set_status``) and the rest (``automation_update``), together."""
    if status:
        automation_set_status(automation=automation, status=status)
    if reentry or name is not None or description is not None:
        automation_update(
            automation=automation,
            name=automation.name if name is None else name,
            reentry=reentry or automation.reentry,
            description=automation.description if description is None else description,
            wait_warn_days=wait_warn_days,
        )
    return automation

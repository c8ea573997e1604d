from django.db import models
from django.db.models import Q

from apps.crm.models import Subscriber
from apps.tags.models import Tag


class AutomationStatus(models.TextChoices):
    """Kit's three states."""

    LIVE = "live", "Live (people enter and move)"
    PAUSED = "paused", "Paused (people enter and queue; nobody moves)"
    DRAFT = "draft", "Draft (nobody enters or moves)"


class Reentry(models.TextChoices):
    """What happens when an entry event fires for someone who has been in the automation."""

    AFTER_FINISH = "after_finish", "Again after their previous run finished (never twice at once)"
    ONCE = "once", "Only once, ever"


class Automation(models.Model):
    """A visual automation: entry triggers, then a tree of steps that runs walk down."""

    name = models.CharField(max_length=255, unique=True)
    status = models.CharField(
        max_length=8, choices=AutomationStatus.choices, default=AutomationStatus.DRAFT
    )
    reentry = models.CharField(max_length=16, choices=Reentry.choices, default=Reentry.AFTER_FINISH)
    description = models.TextField(blank=True)
    # The creator's limit: a run waiting at one step longer than this shows in Health (empty:
    # never). Event steps also have their own timeout, which moves the run on.
    wait_warn_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Show in Health any run that has waited at one step longer than this "
        "many days (empty: never).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Trigger(models.Model):
    """An entry point: when an event of ``event_type`` happens (to the tag, if one is set, or
    matching ``params``), the subscriber enters the automation."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="triggers")
    event_type = models.CharField(max_length=64)
    tag = models.ForeignKey(
        Tag, on_delete=models.PROTECT, null=True, blank=True, related_name="triggers"
    )
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["event_type", "tag"], name="automations_trigger_lookup")]

    def __str__(self) -> str:
        return f"{self.event_type}{f': {self.tag}' if self.tag_id else ''}"


class Branch(models.TextChoices):
    MAIN = "", "Main path"
    YES = "yes", "Yes"
    NO = "no", "No"


class Node(models.Model):
    """One step. Steps form lanes: the main lane (no parent), and each condition's Yes and No
    lanes (parent = the condition). Within a lane, ``position`` orders the steps. When a lane
    ends, the run carries on after the condition that opened it."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="nodes")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    branch = models.CharField(max_length=3, choices=Branch.choices, default=Branch.MAIN, blank=True)
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=32)
    settings = models.JSONField(default=dict, blank=True)
    label = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["automation", "parent_id", "branch", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(parent__isnull=True, branch="")
                | (Q(parent__isnull=False) & ~Q(branch="")),
                name="automations_node_branch_matches_parent",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.kind} #{self.pk}"


class RunStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATUSES = (RunStatus.WAITING, RunStatus.RUNNING)


class Run(models.Model):
    """One subscriber's ``entry_number``-th pass through an automation.

    ``current_node`` is where the run stands. With ``arrived`` false it has yet to execute that
    step; with ``arrived`` true it is waiting there (a delay until ``resume_at``, an event or a
    sequence with no ``resume_at``). A sweep claims waiting runs whose ``resume_at`` is due and
    marks them running under a lease (``locked_until``, ``lease_token``); the worker holding the
    token advances the run. ``chain_depth`` counts automations that triggered one another to get
    here, so a loop between automations stops at a bound.
    """

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="runs")
    entry_number = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.WAITING)
    current_node = models.ForeignKey(
        Node, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs_here"
    )
    arrived = models.BooleanField(default=False)
    node_arrived_at = models.DateTimeField(null=True, blank=True)
    # Said by a step that made the run wait, or by a pull-forward; logged with the next step.
    pending_detail = models.CharField(max_length=500, blank=True)
    resume_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveIntegerField(default=0)
    # The worker process holding the lease (apps/core/leases.py); "" when none beats for it.
    lease_holder = models.CharField(max_length=200, blank=True, default="", db_default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    chain_depth = models.PositiveSmallIntegerField(default=0)
    entry_event = models.ForeignKey(
        "crm.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Events with a higher id happened during this run: what an event step counts, however
    # late the run was dispatched or arrives (time stamps would miss events recorded before
    # the dispatcher got to the entry).
    event_watermark = models.BigIntegerField(default=0)
    steps_logged = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "subscriber", "entry_number"], name="automations_run_entry"
            ),
            # Never two runs of one automation at once for one subscriber: the re-entry rule is a
            # constraint, not a check-then-insert.
            models.UniqueConstraint(
                fields=["automation", "subscriber"],
                condition=Q(status__in=["waiting", "running"]),
                name="automations_one_active_run",
            ),
        ]
        indexes = [
            # The sweep's claim, per live automation: only waiting runs with a due time (so a
            # paused automation's queue never stands in the way of live ones).
            models.Index(
                fields=["automation", "resume_at"],
                name="automations_run_due",
                condition=Q(status="waiting", resume_at__isnull=False),
            ),
            # The reaper: only leased rows.
            models.Index(
                fields=["locked_until"],
                name="automations_run_leased",
                condition=Q(status="running"),
            ),
            # A subscriber's active runs (event pull-forward, unsubscribe, timelines).
            models.Index(fields=["subscriber", "status"], name="automations_run_subscriber"),
            # Per-node "waiting here" counts.
            models.Index(fields=["current_node", "status"], name="automations_run_at_node"),
        ]

    def __str__(self) -> str:
        return f"{self.automation} / {self.subscriber} #{self.entry_number}"


class StepOutcome(models.TextChoices):
    PASSED = "passed", "Passed"
    # A send-email step whose email was held (an undefined variable): the run moved on, the
    # email waits in the outbox until its cause is gone (the hold sweep) or a creator acts.
    HELD = "held", "Passed, email held"
    BRANCHED = "branched", "Branched"
    COMPLETED = "completed", "Completed the run"
    EXITED = "exited", "Exited the run"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (step deleted)"


class RunStep(models.Model):
    """The log: the ``seq``-th step this run executed, with its outcome. ``seq`` comes from the
    run row, which an advance holds locked with its lease token, and (run, seq) is unique: two
    advances that both thought they owned the run cannot both log (and so both commit) a
    step. A retried run or one that meets a step again after an edit logs it anew."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    seq = models.PositiveIntegerField()
    node = models.ForeignKey(Node, on_delete=models.SET_NULL, null=True, related_name="steps")
    node_kind = models.CharField(max_length=32)
    node_label = models.CharField(max_length=255, blank=True)
    arrived_at = models.DateTimeField()
    at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=StepOutcome.choices)
    branch = models.CharField(max_length=3, blank=True)
    detail = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="automations_step_once"),
        ]
        indexes = [models.Index(fields=["node", "outcome"], name="automations_step_by_node")]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.node_kind} {self.outcome}"

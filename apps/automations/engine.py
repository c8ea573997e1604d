"""The engine: runs enter, wait on durable timers, and advance step by step.

Storage and execution follow DESIGN.md: a waiting run's ``resume_at`` is its timer; the sweep
claims due runs with SKIP LOCKED, marks them running under a lease and a token in the same
transaction, and hands them to workers after commit; a worker advances a run only while it
holds the token, executing each step and writing its log row and the next state in one
transaction. A step's log row is unique per run and step, so nothing executes twice.
"""

import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from apps.core.bulk import rows_update
from apps.core.outbox import ERROR_MAX_CHARS, lease_lost
from apps.crm.events import event_chain_depth, events_buffered, events_flush
from apps.crm.models import Event, Subscriber, SubscriberState
from apps.tags.services import tag_names_memo

from .graph import Graph, graph_first_step, graph_load
from .kinds import Outcome, StepContext, StepError, kind_get
from .lock_objects import (
    run_for_advance,
    runs_active_by_id,
    runs_active_of,
    runs_for_advance,
)
from .models import (
    Automation,
    AutomationStatus,
    Reentry,
    Run,
    RunStatus,
    RunStep,
    StepOutcome,
)
from .run_leases import RUNS_LEASE_KIND, run_record_crash, sweep_kick_on_commit

logger = logging.getLogger(__name__)

# Automations that start one another (directly, or by tags that trigger each other) stop here.
CHAIN_DEPTH_MAX = 10
ENTERING_STATUSES = (AutomationStatus.LIVE, AutomationStatus.PAUSED)


# Entering ---------------------------------------------------------------------------------


@transaction.atomic
def runs_start(
    *,
    automation: Automation,
    subscriber_ids: Iterable[int],
    chain_depth: int = 0,
    entry_events: dict[int, int] | None = None,
) -> int:
    """Start runs for these subscribers (unsubscribed people never enter), honouring status
    and the re-entry rule; return how many were started. Concurrent starts are settled by the
    unique constraints (one active run per subscriber, one row per entry number), not by the
    checks here; a start that loses such a race is still counted."""
    if automation.status not in ENTERING_STATUSES:
        return 0
    subscriber_ids = list(
        Subscriber.objects.filter(pk__in=list(dict.fromkeys(subscriber_ids)))
        .exclude(state=SubscriberState.CANCELLED)
        .values_list("pk", flat=True)
    )
    if not subscriber_ids:
        return 0
    entry_events = entry_events or {}
    watermark = None
    if len(entry_events) < len(subscriber_ids):
        events_flush()  # a step that started this run may have buffered events before it
        watermark = Event.objects.aggregate(top=Max("pk"))["top"] or 0
    history = {
        row["subscriber_id"]: row
        for row in Run.objects.filter(automation=automation, subscriber_id__in=subscriber_ids)
        .values("subscriber_id")
        .annotate(last=Max("entry_number"))
    }
    active = set(
        Run.objects.filter(
            automation=automation,
            subscriber_id__in=subscriber_ids,
            status__in=["waiting", "running"],
        ).values_list("subscriber_id", flat=True)
    )
    first = graph_first_step(automation.pk)
    now = timezone.now()
    rows = []
    for sid in subscriber_ids:
        seen = history.get(sid)
        if sid in active or (seen and automation.reentry == Reentry.ONCE):
            continue
        run = Run(
            automation=automation,
            subscriber_id=sid,
            entry_number=(seen["last"] if seen else 0) + 1,
            current_node_id=first,
            resume_at=now,
            chain_depth=chain_depth,
            entry_event_id=entry_events.get(sid),
            event_watermark=entry_events.get(sid, watermark),
        )
        if chain_depth > CHAIN_DEPTH_MAX:
            run.status, run.resume_at, run.finished_at = RunStatus.FAILED, None, now
            run.last_error = (
                f"Not started: {chain_depth} automations in a row triggered each other "
                f"(the bound is {CHAIN_DEPTH_MAX}). Check for a loop of tags or start steps."
            )
            logger.error("automation %s: %s", automation.pk, run.last_error)
        rows.append(run)
    created = Run.objects.bulk_create(rows, ignore_conflicts=True)
    if any(r.status == RunStatus.WAITING for r in rows):
        sweep_kick_on_commit()
    return sum(1 for r in created if r.status == RunStatus.WAITING)


# Exiting ----------------------------------------------------------------------------------


def steps_log_where_they_stand(runs: list[Run], *, now, outcome: str, detail: str) -> None:
    """Log one step per run at the step the run stands on (an exit, a deleted step), with
    the next sequence number of each run (saved by the caller with ``steps_logged``)."""
    for run in runs:
        run.steps_logged += 1
    RunStep.objects.bulk_create(
        [
            RunStep(
                run=run,
                seq=run.steps_logged,
                node=run.current_node,
                node_kind=run.current_node.kind if run.current_node else "",
                node_label=_label(run.current_node),
                arrived_at=run.node_arrived_at or now,
                at=now,
                outcome=outcome,
                detail=detail,
            )
            for run in runs
        ]
    )


@transaction.atomic
def runs_exit(
    *,
    reason: str,
    subscriber_ids: Iterable[int] = (),
    automation_id: int | None = None,
    run_ids: Iterable[int] | None = None,
) -> int:
    """End active runs, logging why: those of these subscribers (in one automation, or all),
    or the runs named by ``run_ids``."""
    now = timezone.now()
    if run_ids is not None:
        queryset = runs_active_by_id(run_ids=run_ids)
    else:
        queryset = runs_active_of(
            subscriber_ids=subscriber_ids,
            automation_ids=[automation_id] if automation_id is not None else None,
        )
    runs = list(queryset.select_related("current_node"))
    if not runs:
        return 0
    steps_log_where_they_stand(runs, now=now, outcome=StepOutcome.EXITED, detail=reason)
    for run in runs:
        run.status, run.finished_at, run.locked_until, run.resume_at = (
            RunStatus.EXITED,
            now,
            None,
            None,
        )
        run.last_error = ""
    Run.objects.bulk_update(
        runs, ["status", "finished_at", "locked_until", "resume_at", "last_error", "steps_logged"]
    )
    return len(runs)


# Sweeping ---------------------------------------------------------------------------------


@transaction.atomic
def runs_retry(*, run_ids: Iterable[int]) -> int:
    """Send failed runs back to the step where they failed (after the cause is fixed)."""
    retried = Run.objects.filter(
        pk__in=list(run_ids), status=RunStatus.FAILED, current_node__isnull=False
    ).update(
        status=RunStatus.WAITING,
        resume_at=timezone.now(),
        attempts=0,
        finished_at=None,
        arrived=False,
        last_error="",
    )
    if retried:
        sweep_kick_on_commit()
    return retried


def engine_health(*, now=None) -> dict:
    """Sweep lag (how late the oldest due run of a live automation is) and stuck runs."""
    now = now or timezone.now()
    oldest = Run.objects.filter(
        status=RunStatus.WAITING,
        resume_at__lte=now,
        automation__status=AutomationStatus.LIVE,
    ).aggregate(oldest=Min("resume_at"))["oldest"]
    return {
        "lag_seconds": (now - oldest).total_seconds() if oldest else 0.0,
        "due": Run.objects.filter(
            status=RunStatus.WAITING, resume_at__lte=now, automation__status=AutomationStatus.LIVE
        ).count(),
        "stuck": Run.objects.filter(status=RunStatus.RUNNING, locked_until__lt=now).count(),
        "failed": Run.objects.filter(status=RunStatus.FAILED).count(),
    }


# Advancing --------------------------------------------------------------------------------


def _label(node) -> str:
    """The step's name in the log: the creator's label, else its kind (no query per step)."""
    if node is None:
        return ""
    try:
        return node.label or kind_get(node.kind).label
    except ValueError:
        return node.kind


_RUN_ADVANCE_FIELDS = [
    "status",
    "current_node",
    "arrived",
    "resume_at",
    "locked_until",
    "last_error",
    "finished_at",
    "node_arrived_at",
    "pending_detail",
    "steps_logged",
]


def run_advance(*, run_id: int, token: int, now=None, graphs: dict | None = None) -> str:
    """Advance one claimed run until it waits or finishes; return its new status (or
    "stale" when another worker's token has replaced ours)."""
    graphs = {} if graphs is None else graphs
    with transaction.atomic():
        run = run_for_advance(run_id=run_id).first()
        steps: list[RunStep] = []
        status = _advance_held(run, token, now or timezone.now(), graphs, steps)
        if status == _WALKED:
            RunStep.objects.bulk_create(steps)
            run.save(update_fields=_RUN_ADVANCE_FIELDS)
            return run.status
    if status == "stale":
        lease_lost(RUNS_LEASE_KIND, [run_id])
    return status


# _advance_held's answer for a run it walked: the caller writes its steps and state.
_WALKED = "walked"


def _advance_held(run: Run | None, token: int, now, graphs: dict, steps: list[RunStep]) -> str:
    """Advance a run whose row this transaction has locked: settle the cases that end or
    hold it at once (and write them), or walk it, adding its steps to ``steps``."""
    if run is None or run.status != RunStatus.RUNNING or run.lease_token != token:
        return "stale"
    if run.subscriber.state == SubscriberState.CANCELLED:
        # Unsubscribed after this run was claimed (or entered): it ends here.
        _log_exit(run, now, "unsubscribed")
        return RunStatus.EXITED
    if run.automation.status != AutomationStatus.LIVE:
        # Paused (or drafted) after the claim: hold the run where it is.
        Run.objects.filter(pk=run.pk).update(status=RunStatus.WAITING, locked_until=None)
        return RunStatus.WAITING
    graph = graphs.get(run.automation_id)
    if graph is None:
        graph = graphs[run.automation_id] = graph_load(run.automation_id)
    with event_chain_depth(run.chain_depth + 1):
        _walk(run, graph, now, steps)
    run.locked_until = None
    return _WALKED


def _log_exit(run: Run, now, reason: str) -> None:
    steps_log_where_they_stand([run], now=now, outcome=StepOutcome.EXITED, detail=reason)
    run.status, run.finished_at, run.resume_at, run.locked_until = (
        RunStatus.EXITED,
        now,
        None,
        None,
    )
    run.save(update_fields=["status", "finished_at", "resume_at", "locked_until", "steps_logged"])


def _step(run, node, now, outcome: StepOutcome, *, detail="", branch="", error="") -> RunStep:
    if run.pending_detail:
        detail = f"{run.pending_detail}; {detail}" if detail else run.pending_detail
        run.pending_detail = ""
    run.steps_logged += 1
    return RunStep(
        run=run,
        seq=run.steps_logged,
        node=node,
        node_kind=node.kind,
        node_label=_label(node),
        arrived_at=run.node_arrived_at or now,
        at=now,
        outcome=outcome,
        branch=branch,
        detail=detail[:ERROR_MAX_CHARS],
        error=error[:ERROR_MAX_CHARS],
    )


def _walk(run: Run, graph: Graph, now, steps: list[RunStep]) -> None:
    while True:
        node = graph.nodes.get(run.current_node_id)
        if node is None:
            run.status, run.finished_at, run.resume_at = RunStatus.COMPLETED, now, None
            return
        if not run.arrived:
            run.node_arrived_at = now
        ctx = StepContext(run=run, node=node, automation=run.automation, now=now)
        kind = kind_get(node.kind)
        # No savepoint per step (two round trips each): a kind raises StepError before it
        # writes anything, and any other error rolls the whole advance back.
        try:
            outcome: Outcome = kind.resume(ctx) if run.arrived else kind.arrive(ctx)
        except StepError as exc:
            steps.append(_step(run, node, now, StepOutcome.FAILED, error=str(exc)))
            run.status, run.finished_at, run.resume_at = RunStatus.FAILED, now, None
            run.last_error = str(exc)[:ERROR_MAX_CHARS]
            return
        if outcome.wait:
            run.status, run.arrived, run.resume_at = RunStatus.WAITING, True, outcome.resume_at
            if outcome.detail:
                run.pending_detail = outcome.detail
            return
        if outcome.finish:
            result = StepOutcome.EXITED if outcome.finish == "exited" else StepOutcome.COMPLETED
            steps.append(_step(run, node, now, result, detail=outcome.detail))
            run.status = RunStatus.EXITED if outcome.finish == "exited" else RunStatus.COMPLETED
            run.finished_at, run.resume_at = now, None
            return
        result = StepOutcome.BRANCHED if outcome.branch else StepOutcome.PASSED
        steps.append(
            _step(
                run,
                node,
                now,
                StepOutcome.HELD if outcome.held else result,
                detail=outcome.detail,
                branch=outcome.branch,
            )
        )
        run.current_node_id = graph.next(node.pk, outcome.branch)
        run.arrived, run.node_arrived_at = False, None


def runs_advance(*, pairs: list[tuple[int, int]]) -> dict[str, int]:
    """Advance claimed runs: all of them in one transaction, their steps' writes batched;
    if anything goes wrong there, that transaction is rolled back and the runs are advanced
    again one by one, each in its own transaction, so one bad run only costs itself."""
    graphs: dict = {}
    try:
        return _runs_advance_together(pairs, graphs)
    except _ChunkStale:
        logger.info("a step changed another run of its chunk; advancing them one by one")
    except Exception:
        logger.warning(
            "advancing %s runs together failed; advancing them one by one",
            len(pairs),
            exc_info=True,
        )
    counts: dict[str, int] = {}
    for run_id, token in pairs:
        try:
            status = run_advance(run_id=run_id, token=token, graphs=graphs)
        except Exception as exc:
            logger.exception("run %s failed to advance", run_id)
            run_record_crash(run_id=run_id, token=token, error=f"{type(exc).__name__}: {exc}")
            status = "crashed"
        counts[status] = counts.get(status, 0) + 1
    return counts


def _subscriber_order(run: Run | None, pair: tuple[int, int]) -> tuple[int, int]:
    return (run.subscriber_id if run else 0, pair[0])


def _runs_advance_together(pairs: list[tuple[int, int]], graphs: dict) -> dict[str, int]:
    """One transaction for a chunk: the runs locked in one query (in key order, as every
    other locker does), the events their steps record inserted together, tag names looked up
    once, their steps inserted and their states updated in one statement each."""
    counts: dict[str, int] = {}
    with transaction.atomic(), events_buffered(), tag_names_memo():
        held = {run.pk: run for run in runs_for_advance(run_ids=[r for r, _ in pairs])}
        now = timezone.now()
        steps: list[RunStep] = []
        walked: list[Run] = []
        lost: list[int] = []
        # Walked in subscriber order: two chunks that touch the same people's tags then
        # take those rows' locks in the same order and cannot deadlock each other.
        for run_id, token in sorted(pairs, key=lambda p: _subscriber_order(held.get(p[0]), p)):
            run = held.get(run_id)
            status = _advance_held(run, token, now, graphs, steps)
            if status == _WALKED:
                walked.append(run)
                status = run.status
            elif status == "stale":
                lost.append(run_id)
            counts[status] = counts.get(status, 0) + 1
        if walked:
            _still_held(walked, dict(pairs))
        RunStep.objects.bulk_create(steps)
        if walked:
            rows_update(walked, _RUN_ADVANCE_FIELDS)
    lease_lost(RUNS_LEASE_KIND, lost)
    return counts


class _ChunkStale(Exception):
    """A step in the chunk changed another run of the chunk (a "remove from automation"
    exited it): the states held in memory are stale, so the chunk is redone run by run."""


def _still_held(walked: list[Run], tokens: dict[int, int]) -> None:
    """Check, before writing the chunk back, that every walked run is still running under
    our lease: a step of one run may have exited another run of the same chunk."""
    current = dict(
        Run.objects.filter(pk__in=[r.pk for r in walked], status=RunStatus.RUNNING).values_list(
            "pk", "lease_token"
        )
    )
    if any(current.get(run.pk) != tokens[run.pk] for run in walked):
        raise _ChunkStale

"""Runs' leases: the sweep claims due runs (SKIP LOCKED, a token, a lease), a crashed
advance gives its run back with backoff, and the reaper returns the runs of dead workers.

They use the shared lease primitive (``apps/core/outbox.py``: the claim, backoff and the
error's length; ``apps/core/leases.py``: renewal and the reaper). The engine (``engine.py``)
advances what is claimed here.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core import oncommit
from apps.core.doorbell import doorbell_ring
from apps.core.leases import LeaseKind, lease_kind_register, leases_reap_one
from apps.core.outbox import backoff, error_text, lease_lost, lease_mark

from .lock_objects import run_for_advance, runs_due
from .models import Automation, AutomationStatus, Run, RunStatus

# How long a claimed run belongs to its worker before the reaper may hand it to another.
RUN_LEASE = timedelta(seconds=settings.RUN_LEASE_SECONDS)
RUN_CLAIM_BATCH = 500
RUN_ADVANCE_CHUNK = 50
RUN_MAX_ATTEMPTS = 5
RUN_RETRY_BASE = timedelta(seconds=30)


def _kick_sweep() -> None:
    from .tasks import runs_sweep

    doorbell_ring(runs_sweep)


def sweep_kick_on_commit() -> None:
    oncommit.on_commit_once(_kick_sweep)


@transaction.atomic
def runs_claim_due(*, now=None, limit: int = RUN_CLAIM_BATCH) -> list[tuple[int, int]]:
    """Claim due runs of live automations; return (run id, lease token) pairs to advance.

    One indexed range scan per live automation (their number, not the runs', bounds the
    loop), so a paused automation's queue costs the claim nothing."""
    now = now or timezone.now()
    ids: list[int] = []
    for automation_id in Automation.objects.filter(status=AutomationStatus.LIVE).values_list(
        "pk", flat=True
    ):
        if len(ids) >= limit:
            break
        ids += runs_due(now=now, automation_id=automation_id, limit=limit - len(ids))
    return lease_mark(RUNS_LEASE_KIND, ids, now=now)


def runs_in_flight() -> int:
    """Runs claimed and not yet advanced (served by the partial index over running rows)."""
    return Run.objects.filter(status=RunStatus.RUNNING).count()


def runs_reap(*, now=None) -> int:
    """Return runs whose worker died (or whose lease expired) to waiting, due at once; a run
    that keeps dying is failed after ``RUN_MAX_ATTEMPTS`` (apps/core/leases.py decides)."""
    return leases_reap_one(RUNS_LEASE_KIND, now=now)


RUNS_LEASE_KIND = "runs"


def _runs_free(ids: list[int], reason: str, counted: bool) -> int:
    """Put reaped runs (locked by the reaper) back in the queue. ``counted``: their worker
    died, an attempt that counts; a run that keeps dying fails after ``RUN_MAX_ATTEMPTS``."""
    now = timezone.now()
    back = ids
    if counted:
        attempts = dict(Run.objects.filter(pk__in=ids).values_list("pk", "attempts"))
        back = [pk for pk in ids if attempts[pk] + 1 < RUN_MAX_ATTEMPTS]
        give_up = [pk for pk in ids if attempts[pk] + 1 >= RUN_MAX_ATTEMPTS]
        if give_up:
            Run.objects.filter(pk__in=give_up).update(
                status=RunStatus.FAILED,
                locked_until=None,
                lease_holder="",
                finished_at=now,
                attempts=F("attempts") + 1,
                last_error=f"{reason} {RUN_MAX_ATTEMPTS} times; gave up",
            )
    if back:
        Run.objects.filter(pk__in=back).update(
            status=RunStatus.WAITING,
            resume_at=now,
            locked_until=None,
            lease_holder="",
            attempts=F("attempts") + 1 if counted else F("attempts"),
            last_error=f"{reason}; returned to the queue",
        )
        sweep_kick_on_commit()
    return len(ids)


lease_kind_register(
    LeaseKind(
        name=RUNS_LEASE_KIND,
        model=Run,
        leased=Q(status=RunStatus.RUNNING),
        free=_runs_free,
        lease=RUN_LEASE,
        claimed={"status": RunStatus.RUNNING},
        waits_in_broker=True,
    )
)


def run_record_crash(*, run_id: int, token: int, error: str) -> None:
    """An unexpected error rolled back an advance: count the attempt and retry later with
    backoff, or fail the run after ``RUN_MAX_ATTEMPTS``."""
    now = timezone.now()
    with transaction.atomic():
        run = run_for_advance(run_id=run_id).first()
        if run is None or run.status != RunStatus.RUNNING or run.lease_token != token:
            lease_lost(RUNS_LEASE_KIND, [run_id])
            return
        run.attempts += 1
        run.last_error = error_text(error)
        run.locked_until = None
        if run.attempts >= RUN_MAX_ATTEMPTS:
            run.status, run.finished_at = RunStatus.FAILED, now
        else:
            run.status = RunStatus.WAITING
            run.resume_at = now + backoff(attempts=run.attempts, base=RUN_RETRY_BASE)
        run.save(
            update_fields=[
                "attempts",
                "last_error",
                "locked_until",
                "status",
                "finished_at",
                "resume_at",
            ]
        )

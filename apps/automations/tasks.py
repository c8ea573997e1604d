"""Thin Celery adapters over the engine and its leases. Waits are never countdown/eta: a
waiting run's ``resume_at`` is in the database and these sweeps find it."""

from celery import shared_task

from apps.core.doorbell import doorbell_answer, doorbell_ring
from apps.core.leases import leases_adopt, leases_done, leases_hold

from . import engine, run_leases

RUNS_SWEEP_TASK = "automations.runs_sweep"
RUNS_ADVANCE_TASK = "automations.runs_advance"
RUNS_REAP_TASK = "automations.runs_reap"
# Claim rounds per sweep task, so one task stays short; the next kick or beat carries on.
SWEEP_MAX_ROUNDS = 20
# Claimed runs waiting in the broker for a worker. Claiming more only starts their leases
# early: under a big backlog they would expire in the queue and be reaped for nothing.
RUN_MAX_IN_FLIGHT = 5000


@shared_task(name=RUNS_SWEEP_TASK, acks_late=True, ignore_result=True)
def runs_sweep() -> int:
    """Claim due runs and hand them to workers in chunks, after the claim commits. It stops
    when nothing is due, after ``SWEEP_MAX_ROUNDS`` claims, or with ``RUN_MAX_IN_FLIGHT``
    runs claimed and not yet advanced; each advance task rings it again when it is done."""
    doorbell_answer(RUNS_SWEEP_TASK)
    claimed = 0
    room = RUN_MAX_IN_FLIGHT - run_leases.runs_in_flight()
    for _ in range(SWEEP_MAX_ROUNDS):
        if room - claimed <= 0:
            break
        pairs = run_leases.runs_claim_due(limit=min(run_leases.RUN_CLAIM_BATCH, room - claimed))
        if not pairs:
            break
        claimed += len(pairs)
        # Held by this task until the broker has them: a failed publish gives them back.
        leases_hold(run_leases.RUNS_LEASE_KIND, pairs)
        for start in range(0, len(pairs), run_leases.RUN_ADVANCE_CHUNK):
            runs_advance.delay(pairs[start : start + run_leases.RUN_ADVANCE_CHUNK])
        leases_done(run_leases.RUNS_LEASE_KIND)
    return claimed


@shared_task(name=RUNS_ADVANCE_TASK, acks_late=True, ignore_result=True)
def runs_advance(pairs: list[list[int]]) -> dict:
    pairs = [(int(a), int(b)) for a, b in pairs]
    # This worker holds them now (the sweep's worker claimed them): if it dies, the reaper
    # hands them on as soon as its heartbeat stops, not when the lease runs out.
    leases_adopt(run_leases.RUNS_LEASE_KIND, pairs)
    counts = engine.runs_advance(pairs=pairs)
    leases_done(run_leases.RUNS_LEASE_KIND)
    # Room in flight again, and maybe runs due meanwhile: one (coalesced) ring of the sweep.
    # Not when eager (tests, the demo's "run it now"): the sweep that queued this is still
    # running, inline, and goes on claiming by itself.
    if not runs_advance.request.is_eager:
        doorbell_ring(runs_sweep)
    return counts


@shared_task(name=RUNS_REAP_TASK, acks_late=True, ignore_result=True)
def runs_reap() -> int:
    """Kept for schedules registered before the reaper moved to core.leases_reap."""
    return run_leases.runs_reap()

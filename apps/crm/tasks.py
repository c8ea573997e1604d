from celery import shared_task

from apps.core.doorbell import doorbell_answer, doorbell_drain

from . import dispatch

EVENTS_DISPATCH_TASK = "crm.events_dispatch"


@shared_task(name=EVENTS_DISPATCH_TASK, acks_late=True, ignore_result=True)
def events_dispatch() -> int:
    """Kicked after a commit that wrote events, and run by beat as the recovery sweep."""
    return doorbell_drain(events_dispatch, dispatch.events_dispatch_some)


DELIVERIES_SEND_TASK = "crm.deliveries_send"


@shared_task(name=DELIVERIES_SEND_TASK, acks_late=True, ignore_result=True)
def deliveries_send() -> int:
    """Kicked when a delivery is enqueued, and run by beat for retries and recovery."""
    from . import delivery

    def batch() -> tuple[int, bool]:
        attempted = delivery.deliveries_send()
        return attempted, attempted >= delivery.DELIVERY_MAX_PER_TASK  # maybe more due

    return doorbell_drain(deliveries_send, batch)


EMAILS_SEND_TASK = "crm.emails_send"
SEQUENCES_SEND_TASK = "crm.sequences_send"
BROADCASTS_SEND_TASK = "crm.broadcasts_send_due"


@shared_task(name=EMAILS_SEND_TASK, acks_late=True, ignore_result=True)
def emails_send() -> int:
    """Send queued emails (kicked when some are queued; beat retries and recovers)."""
    from .messaging import sending

    doorbell_answer(EMAILS_SEND_TASK)
    return sending.emails_send()


EMAILS_HELD_RECHECK_TASK = "crm.emails_held_recheck"


@shared_task(name=EMAILS_HELD_RECHECK_TASK, acks_late=True, ignore_result=True)
def emails_held_recheck() -> int:
    """Render held emails again and send those whose cause is gone (rung when a login or a
    field appears; beat runs it as the sweep)."""
    from .messaging import held

    doorbell_answer(EMAILS_HELD_RECHECK_TASK)
    return held.emails_held_recheck()


@shared_task(name=SEQUENCES_SEND_TASK, acks_late=True, ignore_result=True)
def sequences_send() -> int:
    """Queue sequence emails whose time has come."""
    from .messaging import sequences

    doorbell_answer(SEQUENCES_SEND_TASK)
    return sequences.sequences_send()


@shared_task(name=BROADCASTS_SEND_TASK, acks_late=True, ignore_result=True)
def broadcasts_send_due() -> int:
    from .messaging import broadcasts

    return broadcasts.broadcasts_send_due()


SUBSCRIBER_IMPORT_RUN_TASK = "crm.subscriber_import_run"


# An import of a large file runs for many minutes; one stopped by the soft limit gives its
# lease back, and the next worker resumes it at its first batch not committed.
IMPORT_SOFT_TIME_LIMIT = 55 * 60
IMPORT_TIME_LIMIT = 60 * 60


@shared_task(
    name=SUBSCRIBER_IMPORT_RUN_TASK,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
)
def subscriber_import_run(*, import_id: int, token: int | None = None) -> None:
    """Run a CSV import the dispatcher leased; it resumes at the first batch not committed."""
    from apps.core.leases import leases_adopt

    from .imports import services
    from .imports.leases import IMPORTS_LEASE_KIND

    if token is not None:
        # This worker holds it now: if it dies, the reaper hands the import on in seconds.
        leases_adopt(IMPORTS_LEASE_KIND, [(import_id, token)])
    services.subscriber_import_run(import_id=import_id, token=token)


SUBSCRIBER_IMPORTS_RESUME_TASK = "crm.subscriber_imports_resume_stalled"


@shared_task(name=SUBSCRIBER_IMPORTS_RESUME_TASK, acks_late=True, ignore_result=True)
def subscriber_imports_resume_stalled() -> int:
    """Hand queued imports (new, or handed on by the reaper) to workers."""
    from .imports.leases import subscriber_imports_dispatch

    return subscriber_imports_dispatch()

"""CSV imports' leases: a queued import is handed to a worker under a lease, the reaper hands
on the import of a dead or stalled worker, and it resumes at its next batch elsewhere.

The shared lease primitive does the work (``apps/core/outbox.py``: dispatch, the fence each
batch's transaction starts with, the guarded finish; ``apps/core/leases.py``: renewal from
the heartbeat and the reaper). An import has no attempt counter: slowness never fails it, and
a batch that raises is reported and skipped, not retried.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from apps.core import oncommit
from apps.core.leases import LeaseKind, lease_kind_register
from apps.core.outbox import lease_dispatch

from ..models import ImportStatus, SubscriberImport

IMPORTS_LEASE_KIND = "subscriber_imports"
IMPORT_LEASE = timedelta(seconds=settings.IMPORT_LEASE_SECONDS)
# Imports running (or sent to a worker) at once; the rest wait queued in the database.
IMPORTS_RUNNING_MAX = 4


def _run_send(import_id: int, token: int) -> None:
    from ..tasks import subscriber_import_run

    subscriber_import_run.delay(import_id=import_id, token=token)


def subscriber_imports_dispatch() -> int:
    """Hand queued imports to workers, as many as there is room for; return how many."""
    queued = SubscriberImport.objects.filter(status=ImportStatus.QUEUED).order_by("pk")
    return lease_dispatch(
        IMPORTS_LEASE_KIND, queued, running_max=IMPORTS_RUNNING_MAX, send=_run_send
    )


def dispatch_kick() -> None:
    from ..tasks import subscriber_imports_resume_stalled

    subscriber_imports_resume_stalled.delay()


def dispatch_on_commit() -> None:
    oncommit.on_commit_once(dispatch_kick)


def _imports_free(ids: list[int], reason: str, counted: bool) -> int:
    """Queue handed-on imports again (locked by the caller) and ring the dispatcher: the next
    worker resumes each at its first batch not committed."""
    freed = SubscriberImport.objects.filter(pk__in=ids).update(
        status=ImportStatus.QUEUED, locked_until=None, lease_holder=""
    )
    dispatch_on_commit()
    return freed


lease_kind_register(
    LeaseKind(
        name=IMPORTS_LEASE_KIND,
        model=SubscriberImport,
        leased=Q(status=ImportStatus.RUNNING),
        free=_imports_free,
        lease=IMPORT_LEASE,
        claimed={"status": ImportStatus.RUNNING},
        waits_in_broker=True,
    )
)

from django.db import models


class ProcessKind(models.TextChoices):
    WORKER = "worker", "Celery worker"
    BEAT = "beat", "Celery beat"


class ProcessHeartbeat(models.Model):
    """A running worker or beat process. It rewrites ``beat_at`` (the database's clock, so
    machines' clocks never disagree) every few seconds; a worker whose row went stale died,
    and the leases it holds (``lease_holder`` on runs, emails, deliveries) are handed on
    (``apps/core/leases.py``). Beat's row is what ``/healthz?deep=1`` reads as its pulse."""

    holder = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=8, choices=ProcessKind.choices)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["kind", "beat_at"], name="core_heartbeat_kind")]

    def __str__(self) -> str:
        return self.holder

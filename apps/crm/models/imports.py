"""A CSV import of subscribers: the file, how its columns map, and how far the import got."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ImportStatus(models.TextChoices):
    DRAFT = "draft", "Uploaded (check the mapping)"
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Importing"
    DONE = "done", "Finished"


class SubscriberImport(models.Model):
    """One uploaded CSV file and the import of its rows.

    ``content`` is the file as uploaded (UTF-8 text, size-limited), so a worker on another
    machine reads the same bytes and nothing lives only in a message. ``mapping`` holds one
    target per header column (``email``, ``first_name``, ``tags``, ``ignore`` or
    ``field:<key>``). Rows are imported in batches, each one transaction that also advances
    ``batches_done`` and the counters, so a worker that dies resumes at the first batch not
    committed and no batch is written twice.

    A running import is leased (``apps/core/outbox.py``): the worker holding it renews
    ``locked_until`` while it works, and each batch's transaction checks ``lease_token``, so
    when the reaper hands the import on (its worker died or stalled) the old worker writes
    nothing more and the new one resumes at the next batch.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filename = models.CharField(max_length=255)
    content = models.TextField()
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=list)
    # Tag names added to every imported row, besides those in a tags column.
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.DRAFT
    )
    rows_total = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField("created", default=0)
    updated_count = models.PositiveIntegerField("updated", default=0)
    unchanged_count = models.PositiveIntegerField("unchanged", default=0)
    tagged_count = models.PositiveIntegerField("tagged", default=0)
    # Valid rows in a batch that failed as a whole (nothing of it was written).
    failed_count = models.PositiveIntegerField("not imported", default=0)
    error_count = models.PositiveIntegerField("lines with errors", default=0)
    # [[line, message], ...] in line order; only the first IMPORT_ERRORS_KEPT are kept.
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveIntegerField(default=0)
    # The worker process holding the lease (apps/core/leases.py); "" when none beats for it.
    lease_holder = models.CharField(max_length=200, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-id"]
        verbose_name = "subscriber import"
        indexes = [
            # The dispatcher reads only queued imports; finished ones accumulate.
            models.Index(fields=["id"], name="crm_import_queued", condition=Q(status="queued")),
            # The reaper reads only imports under a lease.
            models.Index(
                fields=["locked_until"], name="crm_import_leased", condition=Q(status="running")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display().lower()})"

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.rows_valid:
            return 0
        return min(100, self.rows_done * 100 // self.rows_valid)

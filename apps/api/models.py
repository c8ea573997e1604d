import secrets

from django.db import models
from django.db.models import Q


def _token() -> str:
    return secrets.token_hex(20)


class ApiCredential(models.Model):
    """The account's Kit v3 credentials: ``api_key`` (public: reads and subscribe calls) and
    ``api_secret`` (private: everything; accepted wherever the key is)."""

    api_key = models.CharField(max_length=64, unique=True, default=_token)
    api_secret = models.CharField(max_length=64, unique=True, default=_token)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API credentials (key …{self.api_key[-4:]})"


class ApiKey(models.Model):
    """A Kit v4 API key (``kit_…``, sent in ``X-Kit-Api-Key``). Only its SHA-256 is stored:
    the key is shown once, when it is made. ``derived_salt`` marks the one key that
    ``manage.py api_credentials`` prints: it is re-derived from SECRET_KEY and the salt each
    time instead of being stored (whoever holds SECRET_KEY can sign sessions anyway)."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, editable=False, help_text="The key's first letters.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    derived_salt = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key (v4)"
        verbose_name_plural = "API keys (v4)"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AccountProfile(models.Model):
    """What Kit's v4 account endpoints read beyond the settings: the account's brand colours
    and the creator profile (one row, created on first use)."""

    colors = models.JSONField(default=list, blank=True)
    byline = models.CharField(max_length=255, blank=True)
    bio = models.TextField(blank=True)
    image_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "Account profile"


class BulkJob(models.Model):
    """A v4 bulk request too big to answer at once (over 100 items, as Kit): kept here, run by
    a worker, and its result POSTed to ``callback_url`` through the webhook deliveries.

    Unfinished, it is queued (no ``locked_until``) or leased to a worker (apps/api/
    job_leases.py). Its items are done ``BULK_BATCH`` at a time, each batch one transaction
    that checks the lease token and adds its answers to ``result`` with ``batches_done``, so
    a job handed on resumes at its next batch and no batch is done twice."""

    kind = models.CharField(max_length=40)
    items = models.JSONField()
    callback_url = models.URLField(max_length=2000, blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    batches_done = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveIntegerField(default=0)
    # The worker process holding the lease (apps/core/leases.py); "" when none beats for it.
    lease_holder = models.CharField(max_length=200, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            # The dispatcher and the reaper read only unfinished jobs; finished ones accumulate.
            models.Index(
                fields=["locked_until"],
                name="api_bulk_unfinished",
                condition=Q(finished_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"bulk {self.kind} ({len(self.items)} items)"


class KitImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Stopped (see the error; start it again to resume)"


class KitImport(models.Model):
    """Moving in from Kit: one pull of a Kit account over its v4 API. It advances stage by
    stage and page by page, saving where it is with each page's writes, so a run that dies
    resumes at the page it was on; records already here are matched, not duplicated. A
    running import is leased to its worker (apps/api/job_leases.py), and each page's
    transaction checks the lease token, so a worker whose import was handed on writes
    nothing more."""

    base_url = models.URLField(max_length=500, default="https://api.kit.com")
    # Kept until the import is done (a resumed run needs it), then blanked.
    api_key = models.CharField(max_length=200)
    status = models.CharField(
        max_length=8, choices=KitImportStatus.choices, default=KitImportStatus.PENDING
    )
    stage = models.CharField(max_length=20, blank=True)
    cursor = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    totals = models.JSONField(default=dict, blank=True)
    failures = models.JSONField(default=list, blank=True)
    webhooks = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveIntegerField(default=0)
    # The worker process holding the lease (apps/core/leases.py); "" when none beats for it.
    lease_holder = models.CharField(max_length=200, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The dispatcher reads only waiting imports; finished ones accumulate.
            models.Index(
                fields=["id"], name="api_kit_import_pending", condition=Q(status="pending")
            ),
            # The reaper reads only imports under a lease.
            models.Index(
                fields=["locked_until"], name="api_kit_import_leased", condition=Q(status="running")
            ),
        ]

    def __str__(self) -> str:
        return f"Kit import #{self.pk} from {self.base_url} ({self.status})"


class KitImportRecord(models.Model):
    """Which local record a Kit record became, so a second run updates instead of adding."""

    kind = models.CharField(max_length=20)
    kit_id = models.BigIntegerField()
    local_id = models.BigIntegerField()
    key = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "kit_id"], name="api_kit_record_once")
        ]

    def __str__(self) -> str:
        return f"Kit {self.kind} {self.kit_id} -> {self.local_id}"

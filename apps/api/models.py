import secrets

from django.db import models


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
    a worker, and its result POSTed to ``callback_url`` through the webhook deliveries."""

    kind = models.CharField(max_length=40)
    items = models.JSONField()
    callback_url = models.URLField(max_length=2000, blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

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
    resumes at the page it was on; records already here are matched, not duplicated."""

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

    class Meta:
        ordering = ["-id"]

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

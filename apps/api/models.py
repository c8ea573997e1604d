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

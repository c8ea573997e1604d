"""Kept only for migration 0001, which names ``_all_weekdays`` (SequenceEmail.send_days's
default) by this path; the models live in ``apps/crm/models/``. Import nothing else here."""

from .models.sequences import _all_weekdays  # noqa: F401

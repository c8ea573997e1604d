"""Beat's scheduler: django-celery-beat's, plus a heartbeat row written from its loop.

``/healthz?deep=1`` and the beat container's healthcheck read that row: beat is up when its
loop ran within ``BEAT_STALE_AFTER_SECONDS`` (the process merely existing says nothing)."""

import logging
import os
import socket
import time
from secrets import token_hex

from django.db import DatabaseError, connection
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)


class Scheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self._holder = f"beat:{socket.gethostname()}:{os.getpid()}:{token_hex(3)}"
        self._beaten_at = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        from apps.core.leases import HEARTBEAT_SECONDS, beat_heartbeat

        if time.monotonic() - self._beaten_at >= HEARTBEAT_SECONDS:
            try:
                connection.close_if_unusable_or_obsolete()
                beat_heartbeat(holder=self._holder)
                self._beaten_at = time.monotonic()
            except DatabaseError:
                logger.warning("beat could not write its heartbeat", exc_info=True)
                connection.close()
        return super().tick(*args, **kwargs)

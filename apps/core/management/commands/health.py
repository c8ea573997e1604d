"""The checks of ``/healthz?deep=1`` from a terminal or a container's healthcheck.

    python manage.py health                    # every check, as /healthz?deep=1
    python manage.py health --process worker   # a worker on this host beats
    python manage.py health --process beat     # beat on this host beats

Exit status 0 when everything checked is fine, 1 otherwise; the detail is printed as JSON.
"""

import json
import socket
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models.functions import Now

from apps.core.health import DEEP_CHECKS, health_report
from apps.core.leases import HOLDER_DEAD_AFTER
from apps.core.models import ProcessHeartbeat, ProcessKind


class Command(BaseCommand):
    help = "Check the database, Redis, the broker, the workers and beat (exit 1 on a failure)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--process",
            choices=[ProcessKind.WORKER, ProcessKind.BEAT],
            help="check only that a process of this kind on this host writes its heartbeat",
        )
        parser.add_argument("--check", action="append", choices=list(DEEP_CHECKS))

    def handle(self, *args, process=None, check=None, **options):
        report = self._process_report(process) if process else health_report(deep=True, only=check)
        self.stdout.write(json.dumps(report, indent=2, default=str))
        if report["status"] != "ok":
            sys.exit(1)

    def _process_report(self, process: str) -> dict:
        stale_after = (
            HOLDER_DEAD_AFTER.total_seconds()
            if process == ProcessKind.WORKER
            else settings.BEAT_STALE_AFTER_SECONDS
        )
        host = socket.gethostname()
        rows = list(
            ProcessHeartbeat.objects.filter(kind=process, hostname=host)
            .annotate(now=Now())
            .values("holder", "beat_at", "now")
        )
        ages = {r["holder"]: (r["now"] - r["beat_at"]).total_seconds() for r in rows}
        ok = any(age <= stale_after for age in ages.values())
        return {
            "status": "ok" if ok else "fail",
            "host": host,
            "kind": process,
            "seconds_since_heartbeat": ages,
        }

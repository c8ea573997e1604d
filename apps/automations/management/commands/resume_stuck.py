from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.automations.engine import engine_health, runs_reap, sweep_kick_on_commit
from apps.automations.models import Run, RunStatus


class Command(BaseCommand):
    help = (
        "Return runs whose worker died (lease expired) to the queue, optionally retry failed "
        "runs, and report the sweep lag."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--failed",
            action="store_true",
            help="also retry failed runs from the step where they failed",
        )

    def handle(self, *args, failed=False, **options):
        reaped = runs_reap()
        retried = 0
        if failed:
            retried = Run.objects.filter(
                status=RunStatus.FAILED, current_node__isnull=False
            ).update(
                status=RunStatus.WAITING,
                resume_at=timezone.now(),
                attempts=0,
                finished_at=None,
                arrived=False,
            )
            if retried:
                sweep_kick_on_commit()
        health = engine_health()
        self.stdout.write(
            f"Returned {reaped} stuck run(s) to the queue; retried {retried} failed run(s). "
            f"Due now: {health['due']}; sweep lag {health['lag_seconds']:.1f}s; "
            f"still stuck: {health['stuck']}."
        )

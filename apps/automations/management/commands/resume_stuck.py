from django.core.management.base import BaseCommand

from apps.automations.engine import engine_health, runs_retry
from apps.automations.models import Run, RunStatus
from apps.automations.run_leases import runs_reap


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
            retried = runs_retry(
                run_ids=Run.objects.filter(status=RunStatus.FAILED).values_list("pk", flat=True)
            )
        health = engine_health()
        self.stdout.write(
            f"Returned {reaped} stuck run(s) to the queue; retried {retried} failed run(s). "
            f"Due now: {health['due']}; sweep lag {health['lag_seconds']:.1f}s; "
            f"still stuck: {health['stuck']}."
        )

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Count

from apps.automations.engine import runs_advance, runs_start
from apps.automations.models import Run, RunStatus, RunStep
from apps.automations.run_leases import runs_claim_due
from apps.crm.models import Event, Subscriber
from tests.automations.helpers import add, build, remove, when

RUNS = 2000
CLAIM = 100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_over_2000_due_runs_advance_each_run_exactly_once(no_kick):
    # given: 2,000 runs due now, in a flow of four steps
    flow = build(
        triggers=[],
        steps=[
            add("X"),
            when({"has": "X"}, yes=[remove("X")], no=[]),
            {"kind": "end", "settings": {}},
        ],
    )
    Subscriber.objects.bulk_create(Subscriber(email=f"c{i}@example.com") for i in range(RUNS))
    assert (
        runs_start(automation=flow, subscriber_ids=Subscriber.objects.values_list("pk", flat=True))
        == RUNS
    )
    barrier = threading.Barrier(2)
    claimed: list[list[int]] = [[], []]

    def sweep(slot: int):
        try:
            barrier.wait()
            while pairs := runs_claim_due(limit=CLAIM):
                claimed[slot].extend(run_id for run_id, _ in pairs)
                runs_advance(pairs=pairs)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=sweep, args=(slot,)) for slot in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then: disjoint claims covering every run, and four log rows per run
    assert len(claimed[0]) > 0 and len(claimed[1]) > 0, "both sweeps should have shared the work"
    assert sorted(claimed[0] + claimed[1]) == sorted(Run.objects.values_list("pk", flat=True))
    assert Counter(Run.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED: RUNS}
    per_run = Counter(
        RunStep.objects.values("run").annotate(n=Count("pk")).values_list("n", flat=True)
    )
    assert per_run == {4: RUNS}
    assert RunStep.objects.values("run", "node").distinct().count() == 4 * RUNS
    # The side effects happened once each: one add and one remove of X per person.
    x_events = Event.objects.filter(payload__tag_name="X")
    assert x_events.filter(type="tag_add").count() == RUNS
    assert x_events.filter(type="tag_remove").count() == RUNS
    assert not Run.objects.filter(last_error__contains="Error").exists()

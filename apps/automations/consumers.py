"""What the engine does with events: start runs, pull runs forward to event steps, and exit
the runs of people who unsubscribe. Each handler gets a batch and works set-wise; all of it
commits with the dispatcher's batch."""

from collections import defaultdict

from django.utils import timezone

from apps.crm import event_types
from apps.crm.models import SubscriberState

from .engine import ENTERING_STATUSES, _label, runs_exit, runs_start, sweep_kick_on_commit
from .graph import graph_load
from .kinds.event import KIND as EVENT_KIND
from .kinds.event_spec import event_spec_split
from .lock_objects import runs_active_of
from .matching import event_matches
from .models import AutomationStatus, Node, Run, Trigger

ENTRY_CONSUMER = "automations.entry"
GOAL_CONSUMER = "automations.goals"
EXIT_CONSUMER = "automations.exit_on_unsubscribe"


def on_events_entry(events) -> None:
    triggers = list(
        Trigger.objects.filter(
            event_type__in={e.type for e in events}, automation__status__in=ENTERING_STATUSES
        ).select_related("automation")
    )
    if not triggers:
        return
    starts: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for event in events:
        subscriber = event.subscriber
        if subscriber is None or subscriber.state == SubscriberState.CANCELLED:
            continue
        depth = int((event.payload or {}).get("chain_depth", 0))
        if (event.payload or {}).get("already_active"):
            # An announcement that changed nothing (a release of access the member already
            # has): it moves runs waiting for it, but starts no flow, as a tag-added trigger
            # fires only on a real add; a repeated delivery of one release starts nothing.
            continue
        for trigger in triggers:
            # An event older than the automation never starts it: a backlog drained after an
            # outage, or an import, must not "ghost-trigger" a flow built afterwards.
            if event.created_at < trigger.automation.created_at:
                continue
            if event_matches(
                event_type=trigger.event_type,
                tag_id=trigger.tag_id,
                params=trigger.params,
                event=event,
            ):
                starts[(trigger.automation_id, depth)].setdefault(subscriber.pk, event.pk)
    automations = {t.automation_id: t.automation for t in triggers}
    for (automation_id, depth), entries in starts.items():
        runs_start(
            automation=automations[automation_id],
            subscriber_ids=list(entries),
            chain_depth=depth,
            entry_events=entries,
        )


def _goal_steps(events) -> dict[int, list[Node]]:
    """The event steps of live automations waiting for one of these events' types."""
    by_automation: dict[int, list[Node]] = defaultdict(list)
    for node in Node.objects.filter(
        kind=EVENT_KIND.key,
        automation__status=AutomationStatus.LIVE,
        settings__event_type__in=list({e.type for e in events}),
    ):
        by_automation[node.automation_id].append(node)
    return by_automation


def _goal_reached(run: Run, events: list, steps: list[Node], graph) -> int | None:
    """The nearest step ahead of the run (or its own) that one of its fresh events hits."""
    fresh = [e for e in events if e.pk > run.event_watermark]
    hit = {n.pk for n in steps if any(_matches(n, e) for e in fresh)}
    if not hit:
        return None
    return next((n for n in graph.ahead(run.current_node_id) if n in hit), None)


def on_events_goal(events) -> None:
    """Pull runs forward to an event step when its event happens (Kit's goals). Only live
    automations move people; a paused one's runs find the event when they arrive later."""
    events = [e for e in events if e.subscriber_id]
    if not events:
        return
    by_automation = _goal_steps(events)
    if not by_automation:
        return
    by_subscriber = defaultdict(list)
    for event in events:
        by_subscriber[event.subscriber_id].append(event)
    runs = list(
        runs_active_of(subscriber_ids=by_subscriber, automation_ids=by_automation).select_related(
            "current_node"
        )
    )
    graphs = {aid: graph_load(aid) for aid in {r.automation_id for r in runs}}
    now, moved = timezone.now(), []
    for run in runs:
        target = _goal_reached(
            run,
            by_subscriber[run.subscriber_id],
            by_automation[run.automation_id],
            graphs[run.automation_id],
        )
        if target is None:
            continue
        if target != run.current_node_id:
            run.pending_detail = f"pulled forward from {_label(run.current_node)!r}"[:500]
            run.current_node_id, run.node_arrived_at = target, now
        run.arrived, run.resume_at = True, now
        moved.append(run)
    if moved:
        Run.objects.bulk_update(
            moved, ["current_node", "arrived", "resume_at", "pending_detail", "node_arrived_at"]
        )
        sweep_kick_on_commit()


def _matches(node: Node, event) -> bool:
    event_type, tag_id, params = event_spec_split(node.settings)
    return event_matches(event_type=event_type, tag_id=tag_id, params=params, event=event)


def on_events_unsubscribe(events) -> None:
    runs_exit(
        subscriber_ids={e.subscriber_id for e in events if e.subscriber_id}, reason="unsubscribed"
    )


def register() -> None:
    from apps.crm.dispatch import consumer_register

    consumer_register(name=ENTRY_CONSUMER, handle=on_events_entry)
    consumer_register(name=GOAL_CONSUMER, handle=on_events_goal)
    consumer_register(
        name=EXIT_CONSUMER,
        handle=on_events_unsubscribe,
        event_types=[event_types.SUBSCRIBER_UNSUBSCRIBE],
    )

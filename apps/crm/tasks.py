from celery import shared_task

from . import dispatch

EVENTS_DISPATCH_TASK = "crm.events_dispatch"


@shared_task(name=EVENTS_DISPATCH_TASK, acks_late=True, ignore_result=True)
def events_dispatch() -> int:
    """Kicked after a commit that wrote events, and run by beat as the recovery sweep."""
    return dispatch.events_dispatch()


DELIVERIES_SEND_TASK = "crm.deliveries_send"


@shared_task(name=DELIVERIES_SEND_TASK, acks_late=True, ignore_result=True)
def deliveries_send() -> int:
    """Kicked when a delivery is enqueued, and run by beat for retries and recovery."""
    from . import delivery

    return delivery.deliveries_send()

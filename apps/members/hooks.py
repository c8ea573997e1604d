"""The built-in CRM's side of the Webhook Generator: "when tag T is added, POST here".

A tag_add event whose tag fires an active endpoint owes that endpoint's URL one POST of Kit's
``{"subscriber": {...}}`` payload, recorded in the delivery outbox with a key per endpoint and
event, so it is sent once, after commit, with retries.
"""

import json
from collections import defaultdict

from apps.crm.delivery import webhook_delivery_enqueue
from apps.crm.models import SubscriberFieldValue
from apps.crm.payloads import subscriber_kit_payload

from .models import EndpointStatus, WebhookEndpoint


def endpoints_fire_on_tags(events) -> None:
    tag_ids = {e.payload.get("tag_id") for e in events if e.subscriber_id}
    endpoints = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(
        status=EndpointStatus.ACTIVE, trigger_tag_id__in=tag_ids
    ):
        endpoints[endpoint.trigger_tag_id].append(endpoint)
    firing = [
        (e, ep)
        for e in events
        if e.subscriber_id
        for ep in endpoints.get(e.payload.get("tag_id"), [])
    ]
    if not firing:
        return
    fields = defaultdict(dict)
    for sid, key, value in SubscriberFieldValue.objects.filter(
        subscriber_id__in={e.subscriber_id for e, _ in firing}
    ).values_list("subscriber_id", "field__key", "value"):
        fields[sid][key] = value
    for event, endpoint in firing:
        body = {
            "subscriber": subscriber_kit_payload(
                event.subscriber, fields=fields[event.subscriber_id]
            )
        }
        webhook_delivery_enqueue(
            key=f"endpoint:{endpoint.pk}:event:{event.pk}",
            url=endpoint.url,
            body=json.dumps(body),
            headers={"webhook-id": f"evt_{event.pk}_ep_{endpoint.pk}"},
        )

"""An inbound call to a Webhook Generator URL, from the network (the view) or from this site's
own CRM (an outbound hook whose target is one of our URLs, delivered in process: DESIGN "no
HTTP to ourselves"). Both take the same checks, write the same call log and queue the same
work; only the network path is rate-limited, so no other caller's traffic, however much of it
shares an address with us behind a proxy, can hold up the CRM's own release calls."""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.urls import Resolver404, resolve

from apps.core.throttle import window_allow

from . import services
from .models import EndpointStatus, Operation, WebhookEndpoint
from .purchases import CartRequest, purchase_handler

logger = logging.getLogger(__name__)

# A flood of 429s is logged as a sample: the first few per source and minute get a call-log
# row and a warning, the rest only count (the log must not become the flood).
THROTTLED_LOGGED_PER_MINUTE = 5


@dataclass
class Inbound:
    public_id: str
    operation: str
    offering_id: int
    signature: str
    payload: dict
    parse_error: str | None
    remote_addr: str | None
    path: str
    delivery_id: str = ""
    # The raw request, for a cart's own signature over it (the purchase operation).
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def throttled_log(*, source: str, endpoint: WebhookEndpoint | None, inbound: Inbound) -> None:
    """Record a call answered 429, sampled (see THROTTLED_LOGGED_PER_MINUTE)."""
    if not window_allow(f"log429:{source}", limit=THROTTLED_LOGGED_PER_MINUTE):
        return
    logger.warning(
        "webhook call answered 429 (%s) from %s to %s",
        source.split(":")[0],
        inbound.remote_addr,
        services.path_redact(inbound.path),
    )
    services.webhook_call_refuse(
        endpoint=endpoint,
        payload={},
        remote_addr=inbound.remote_addr,
        path=inbound.path,
        http_status=429,
        error=f"rate limited ({source.split(':')[0]}); only the first "
        f"{THROTTLED_LOGGED_PER_MINUTE} a minute are logged",
        count_refusal=False,
    )


def webhook_inbound_receive(inbound: Inbound, *, rate_limited: bool) -> tuple[int, dict]:
    """Check and log one call, queue its operation; return (HTTP status, JSON answer)."""
    endpoint = (
        WebhookEndpoint.objects.select_related("offering")
        .filter(public_id=inbound.public_id)
        .first()
    )

    def refuse(status: int, message: str) -> tuple[int, dict]:
        services.webhook_call_refuse(
            endpoint=endpoint,
            payload=inbound.payload,
            remote_addr=inbound.remote_addr,
            path=inbound.path,
            http_status=status,
            error=message,
        )
        return status, {"error": message}

    if endpoint is None:
        return refuse(404, "No webhook endpoint has this address.")
    if not endpoint.signature_valid(
        operation=inbound.operation, offering_id=inbound.offering_id, signature=inbound.signature
    ):
        return refuse(
            403, "The signature does not match this URL; copy it again from the Webhook Generator."
        )
    if endpoint.status == EndpointStatus.REVOKED:
        return refuse(410, "This webhook URL was revoked.")
    if rate_limited and not services.webhook_call_rate_record(endpoint=endpoint):
        throttled_log(source=f"url:{endpoint.pk}", endpoint=endpoint, inbound=inbound)
        return 429, {"error": "Too many calls to this URL; retry in a minute."}
    if inbound.parse_error:
        return refuse(400, inbound.parse_error)
    if endpoint.operation == Operation.PURCHASE:
        cart = CartRequest(body=inbound.body, headers=inbound.headers, payload=inbound.payload)
        handler = purchase_handler()
        refusal = handler.refusal(endpoint=endpoint, request=cart)
        if refusal:
            return refuse(403, refusal)
        skipped = handler.skipped(endpoint=endpoint, request=cart)
        if skipped:
            # Carts post every event to one URL; answering 200 stops their retries.
            return 200, {"status": "ignored", "reason": skipped}
        inbound.delivery_id = (
            handler.delivery_id(endpoint=endpoint, request=cart) or inbound.delivery_id
        )
    else:
        try:
            services.contact_from_payload(inbound.payload)
        except services.ContactError as exc:
            return refuse(400, str(exc))
    call, fresh = services.webhook_call_accept(
        endpoint=endpoint,
        payload=inbound.payload,
        remote_addr=inbound.remote_addr,
        path=inbound.path,
        delivery_id=inbound.delivery_id,
    )
    return 202, {"status": "accepted" if fresh else "duplicate", "call": call.pk}


def webhook_local_deliver(*, path: str, body: str, headers: dict) -> tuple[int, str] | None:
    """The CRM's delivery to one of this site's own URLs: the inbound call in process, without
    the network's rate limits. None when the path is not a Webhook Generator URL (the caller
    then posts over HTTP as to any target)."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.view_name != "members:webhook_inbound":
        return None
    try:
        payload, parse_error = json.loads(body or "{}"), None
        if not isinstance(payload, dict):
            payload, parse_error = {}, "The JSON body must be an object."
    except ValueError as exc:
        payload, parse_error = {}, f"The body is not valid JSON: {exc}."
    lowered = {key.lower(): value for key, value in headers.items()}
    status, answer = webhook_inbound_receive(
        Inbound(
            payload=payload,
            parse_error=parse_error,
            remote_addr=None,
            path=path,
            delivery_id=lowered.get("webhook-id") or lowered.get("x-webhook-id") or "",
            **match.kwargs,
        ),
        rate_limited=False,
    )
    return status, json.dumps(answer)

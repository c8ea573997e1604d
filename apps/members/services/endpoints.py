"""The Webhook Generator's endpoints: minting, rotating and revoking URLs."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.offerings.models import Offering
from apps.tags.services import tag_get_or_create

from ..models import (
    EndpointStatus,
    Operation,
    WebhookEndpoint,
)
from ..purchases import Cart

logger = logging.getLogger(__name__)


def _hook_sync(endpoint: WebhookEndpoint) -> None:
    """The built-in CRM's registration: "when the trigger tag is added, POST here", as a
    Kit hook (signed, retried, logged like any other)."""
    from apps.crm.hooks import hook_create
    from apps.crm.models import Hook

    if endpoint.hook_id:
        Hook.objects.filter(pk=endpoint.hook_id).update(
            target_url=endpoint.url, active=endpoint.status == EndpointStatus.ACTIVE
        )
    elif endpoint.trigger_tag_id and endpoint.status == EndpointStatus.ACTIVE:
        endpoint.hook = hook_create(
            event_name="subscriber.tag_add",
            target_url=endpoint.url,
            filter_value=endpoint.trigger_tag_id,
        )
        endpoint.save(update_fields=["hook"])


# Carts that sign their posts or send a shared secret: a purchase URL for them needs it.
CART_SECRET_NAMES = {
    Cart.THRIVECART: "ThriveCart's secret word (Settings > API & Webhooks)",
    Cart.WOOCOMMERCE: "the WooCommerce webhook's secret",
    Cart.GUMROAD: "your Gumroad seller id (it comes with every ping)",
    Cart.STRIPE_LINK: "the Stripe webhook endpoint's signing secret (whsec_...)",
}


@transaction.atomic
def endpoint_mint(
    *,
    operation: str,
    offering: Offering,
    trigger_tag=None,
    label: str = "",
    cart: str = "",
    cart_secret: str = "",
) -> WebhookEndpoint:
    if operation not in Operation.values:
        raise ValidationError(
            f"Unknown operation {operation!r}; choose release, update, revoke or purchase."
        )
    cart_secret = (cart_secret or "").strip()
    if operation == Operation.PURCHASE:
        if cart not in Cart.values:
            raise ValidationError("A purchase URL needs its cart: choose which cart posts here.")
        if cart in CART_SECRET_NAMES and not cart_secret:
            raise ValidationError(
                f"{Cart(cart).label} is checked with {CART_SECRET_NAMES[cart]}; paste it in "
                "'Cart secret'."
            )
        if trigger_tag is not None:
            raise ValidationError("A purchase URL is called by the cart, not fired by a tag.")
    elif cart or cart_secret:
        raise ValidationError("A cart and its secret belong to the purchase operation only.")
    endpoint = WebhookEndpoint.objects.create(
        operation=operation,
        offering=offering,
        trigger_tag=trigger_tag,
        label=label,
        cart=cart,
        cart_secret=cart_secret,
    )
    _hook_sync(endpoint)
    return endpoint


@transaction.atomic
def endpoint_rotate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret, so every URL handed out before stops working (the CRM hook follows)."""
    endpoint.secret = WebhookEndpoint._meta.get_field("secret").default()
    endpoint.rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "rotated_at"])
    _hook_sync(endpoint)
    return endpoint


@transaction.atomic
def endpoint_revoke(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.status = EndpointStatus.REVOKED
    endpoint.save(update_fields=["status"])
    _hook_sync(endpoint)
    return endpoint


@transaction.atomic
def endpoint_mint_by_tag_name(*, trigger_tag: str | None, **fields) -> WebhookEndpoint:
    """``endpoint_mint`` with the trigger tag typed by name, made if it is new, in the same
    transaction as the endpoint (the admin's form)."""
    tag = tag_get_or_create(name=trigger_tag)[0] if trigger_tag else None
    return endpoint_mint(trigger_tag=tag, **fields)

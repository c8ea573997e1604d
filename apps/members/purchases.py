"""The Webhook Generator's "purchase" operation, filled in by a higher app.

A cart's webhook (ThriveCart, SamCart, WooCommerce, Gumroad, a Stripe Payment Link) records a
purchase: the same Kit-shaped ``Purchase`` and tags as a sale through the site's own order
form. Products, prices and what a sale adds live above this app (``apps.commerce``), so this
module only holds the hook the inbound view and the call worker use; ``commerce`` registers
the handler in its ``AppConfig.ready()``."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from django.db import models


class Cart(models.TextChoices):
    THRIVECART = "thrivecart", "ThriveCart (order.success)"
    SAMCART = "samcart", "SamCart (order notification)"
    WOOCOMMERCE = "woocommerce", "WooCommerce (order webhook)"
    GUMROAD = "gumroad", "Gumroad (ping)"
    STRIPE_LINK = "stripe_link", "Stripe Payment Link (checkout.session.completed)"


@dataclass(frozen=True)
class CartRequest:
    """What the cart sent, as the cart's own check needs it (the raw body for an HMAC)."""

    body: bytes
    headers: Mapping[str, str]  # the request's own, looked up in any case
    payload: dict


class PurchaseHandler(Protocol):
    def refusal(self, *, endpoint, request: CartRequest) -> str | None:
        """Why the cart's own signature or shared secret does not hold (403), or None."""

    def delivery_id(self, *, endpoint, request: CartRequest) -> str:
        """The cart's order id: a second delivery of the same order is a duplicate."""

    def skipped(self, *, endpoint, request: CartRequest) -> str | None:
        """Why this notification records nothing (another event type, a test ping), or None."""

    def apply(self, *, endpoint, payload: dict, source: str):
        """Record the purchase; return (subscriber, what it did). Idempotent."""


_handler: PurchaseHandler | None = None


def purchase_handler_register(handler: PurchaseHandler) -> None:
    global _handler
    _handler = handler


def purchase_handler() -> PurchaseHandler:
    if _handler is None:  # pragma: no cover - commerce is always installed with members
        raise RuntimeError("No purchase handler: add apps.commerce to INSTALLED_APPS.")
    return _handler

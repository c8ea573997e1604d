from decimal import Decimal

import pytest

from apps.commerce.models import PriceKind
from apps.commerce.services import product_create

from .stripe_payloads import WEBHOOK_SECRET


@pytest.fixture(autouse=True)
def stripe_keys(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_tessera"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def sell():
    """Put an offering on sale: a product and one price (amount in currency units)."""

    def make(offering, *, slug="course", amount="197.00", kind=PriceKind.ONE_TIME, **price):
        return product_create(
            offering=offering,
            name=f"{offering.name} (product)",
            slug=slug,
            amount=Decimal(amount),
            kind=kind,
            **price,
        )

    return make


@pytest.fixture
def stripe_post(client, django_capture_on_commit_callbacks):
    """Post a signed event as Stripe does, running what commits would run (the worker's
    ring), so the event is processed as a worker would."""
    from .stripe_payloads import post_event

    def post(payload: dict, **sign):
        with django_capture_on_commit_callbacks(execute=True):
            return post_event(client, payload, **sign)

    return post


@pytest.fixture
def stripe_api(monkeypatch):
    """Stripe's API as a local server (the library pointed at it with ``stripe.api_base``)."""
    import stripe

    from .fake_stripe import FakeStripe

    with FakeStripe() as fake:
        monkeypatch.setattr(stripe, "api_base", fake.url)
        monkeypatch.setattr(stripe, "max_network_retries", 0)
        yield fake

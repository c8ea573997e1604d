"""Stripe's webhook: Stripe's documented events, signed with a test secret, posted to the one
URL; the worker (eager here) records the purchase, and the guide's flows take it from there."""

import time

import pytest
from django.urls import reverse

from apps.automations.seed import seed_guide_automations
from apps.commerce.models import EventStatus, Order, OrderStatus, StripeEvent
from apps.crm.models import EmailMessage, Event, Purchase
from apps.members.models import Member, Operation
from apps.members.services import endpoint_mint
from apps.offerings.models import AccessGrant
from apps.tags.services import tag_get_or_create
from tests.automations.helpers import tags_of
from tests.offerings.helpers import weekly_course

from . import stripe_payloads as sp

FC = "Foundation Course"


@pytest.fixture
def guide_course(live_server, settings, sell):
    """The guide's set-up: the course, its release automation, the Release URL fired by the
    release tag (over HTTP to the live server), and a price on sale."""
    settings.SITE_URL = live_server.url
    course = weekly_course(FC)
    seed_guide_automations()
    endpoint_mint(
        operation=Operation.RELEASE,
        offering=course,
        trigger_tag=tag_get_or_create(name=f"{FC} – Release Webhook")[0],
    )
    return course, sell(course, slug="foundation", amount="197.00")


@pytest.mark.django_db(transaction=True)
def test_checkout_completed_buys_tags_and_the_release_flow_welcomes_the_buyer(guide_course, client):
    # given
    course, price = guide_course
    completed = sp.event(
        "checkout.session.completed",
        sp.checkout_session(email="ada@example.com", price_slug="foundation", amount=19700),
    )

    # when
    response = sp.post_event(client, completed)

    # then: one purchase in Kit's shape, the purchase tag, and the guide's flow ran
    assert response.status_code == 200
    stored = StripeEvent.objects.get(event_id=completed["id"])
    assert stored.status == EventStatus.DONE, stored.error
    purchase = Purchase.objects.get()
    assert (purchase.email_address, purchase.total, purchase.currency) == (
        "ada@example.com",
        197,
        "USD",
    )
    assert purchase.transaction_id == completed["data"]["object"]["payment_intent"]
    assert purchase.products[0]["sku"] == "foundation"
    order = Order.objects.get()
    assert order.status == OrderStatus.PAID and order.purchase == purchase
    buyer = purchase.subscriber
    assert f"{FC} – Purchase Success" in tags_of(buyer)
    assert Member.objects.filter(subscriber=buyer).exists()
    assert AccessGrant.objects.get(subscriber=buyer, offering=course).active
    welcome = EmailMessage.objects.get(subscriber=buyer, kind="automation")
    assert (welcome.status, welcome.subject) == ("sent", "Welcome to the Foundation Course")

    # when: Stripe delivers the same event again (a retry, freshly signed)
    events_before = Event.objects.count()
    again = sp.post_event(client, completed)

    # then: acknowledged, nothing changed
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Purchase.objects.count() == 1 and Order.objects.count() == 1
    assert StripeEvent.objects.filter(event_id=completed["id"]).count() == 1
    assert Event.objects.count() == events_before


@pytest.mark.django_db
def test_a_wrong_signature_changes_nothing_and_is_logged(stripe_post, sell):
    # given
    sell(weekly_course(FC), slug="foundation")
    completed = sp.event(
        "checkout.session.completed",
        sp.checkout_session(email="eve@example.com", price_slug="foundation", amount=19700),
    )

    # when
    response = stripe_post(completed, secret="whsec_not_the_one_stripe_uses")

    # then
    assert response.status_code == 403
    assert "Stripe-Signature did not verify" in response.json()["error"]
    refused = StripeEvent.objects.get()
    assert (refused.status, refused.http_status, refused.payload) == (
        EventStatus.REFUSED,
        403,
        {},
    )
    assert "No signatures found matching" in refused.error
    assert not Purchase.objects.exists() and not Order.objects.exists()


@pytest.mark.django_db
def test_unsigned_and_stale_webhooks_are_refused(stripe_post, client, sell):
    # given
    sell(weekly_course(FC), slug="foundation")
    completed = sp.event(
        "checkout.session.completed",
        sp.checkout_session(email="eve@example.com", price_slug="foundation", amount=19700),
    )
    body, _ = sp.signed(completed)

    # when
    unsigned = client.post("/stripe/webhook/", body, content_type="application/json")
    stale = stripe_post(completed, timestamp=int(time.time()) - 301)

    # then
    assert (unsigned.status_code, stale.status_code) == (403, 403)
    errors = list(StripeEvent.objects.order_by("pk").values_list("error", flat=True))
    assert "No Stripe-Signature header" in errors[0]
    assert "Timestamp outside the tolerance zone" in errors[1]
    assert not Order.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("session", "reason"),
    [
        (dict(price_slug="no-such-price", amount=19700), "Unknown price 'no-such-price'"),
        (dict(price_slug="foundation", amount=19700, currency="eur"), "Currency mismatch"),
        (dict(price_slug="foundation", amount=100), "Amount mismatch: 1 USD"),
    ],
)
def test_a_payment_that_does_not_match_its_price_is_flagged_and_gives_no_access(
    stripe_post, sell, session, reason
):
    # given
    course = weekly_course(FC)
    sell(course, slug="foundation", amount="197.00")
    completed = sp.event(
        "checkout.session.completed", sp.checkout_session(email="bob@example.com", **session)
    )

    # when
    assert stripe_post(completed).status_code == 200

    # then: recorded and flagged, with the reason; no purchase, no tag
    event = StripeEvent.objects.get(event_id=completed["id"])
    assert event.status == EventStatus.FLAGGED and reason in event.result
    order = Order.objects.get()
    assert order.status == OrderStatus.FLAGGED and reason in order.flag_reason
    assert order.purchase is None and not Purchase.objects.exists()
    assert tags_of(order.subscriber) == set()


@pytest.mark.django_db
def test_a_coupon_discount_is_not_an_amount_mismatch(stripe_post, sell):
    # given
    sell(weekly_course(FC), slug="foundation", amount="197.00")
    session = sp.checkout_session(
        email="kim@example.com", price_slug="foundation", amount=19700, discount=4700
    )

    # when
    stripe_post(sp.event("checkout.session.completed", session))

    # then
    purchase = Purchase.objects.get()
    assert (purchase.subtotal, purchase.discount, purchase.total) == (197, 47, 150)


@pytest.mark.django_db
def test_replaying_a_failed_event_after_the_fix_records_it(
    stripe_post, sell, admin_client, django_capture_on_commit_callbacks
):
    # given: the price did not exist yet when Stripe's event came
    course = weekly_course(FC)
    completed = sp.event(
        "checkout.session.completed",
        sp.checkout_session(email="lee@example.com", price_slug="late", amount=5000),
    )
    stripe_post(completed)
    event = StripeEvent.objects.get(event_id=completed["id"])
    assert event.status == EventStatus.FLAGGED
    Order.objects.all().delete()  # the creator looked at it, then fixed the price
    sell(course, slug="late", amount="50.00")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:commerce_stripeevent_changelist"),
            {"action": "replay", "_selected_action": [event.pk]},
        )

    # then
    event.refresh_from_db()
    assert event.status == EventStatus.DONE, event.error
    assert Purchase.objects.get().email_address == "lee@example.com"


@pytest.mark.django_db
def test_a_failed_event_is_retried_by_the_sweep_with_a_growing_pause(stripe_post, sell):
    import time_machine
    from django.utils import timezone

    from apps.commerce.stripe_events import (
        EVENT_MAX_ATTEMPTS,
        EVENT_RETRY_AFTER,
        stripe_events_resume_stuck,
    )

    # given: an event that fails (no email anywhere in the session)
    sell(weekly_course(FC), slug="foundation")
    session = sp.checkout_session(email="", price_slug="foundation", amount=19700)
    completed = sp.event("checkout.session.completed", session)
    stripe_post(completed)
    event = StripeEvent.objects.get(event_id=completed["id"])
    assert (event.status, event.attempts) == (EventStatus.FAILED, 1)
    assert "names no customer email" in event.error

    # when: the sweep runs before the pause, then after each growing pause
    stripe_events_resume_stuck()
    assert StripeEvent.objects.get(pk=event.pk).attempts == 1
    for attempt in range(1, EVENT_MAX_ATTEMPTS + 2):
        with time_machine.travel(timezone.now() + EVENT_RETRY_AFTER * attempt * 10, tick=False):
            stripe_events_resume_stuck()

    # then: retried up to the limit, then left for a person (replay from the admin)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.FAILED, EVENT_MAX_ATTEMPTS)

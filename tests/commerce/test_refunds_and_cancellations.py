"""A refund, a cancelled subscription and a renewal that failed for good revoke access
through the offering's Revoke Access tag; the member's pages and the API then agree."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apps.commerce.models import (
    Consequence,
    EventStatus,
    Order,
    OrderStatus,
    PriceKind,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from apps.crm.models import Purchase
from apps.members.models import Member, Operation
from apps.members.services import operation_run
from tests.automations.helpers import tags_of
from tests.offerings.helpers import weekly_course

from . import stripe_payloads as sp

pytestmark = pytest.mark.django_db
FC = "Foundation Course"
MONTH = 30 * 86400


@pytest.fixture
def staff_api(client):
    staff = get_user_model().objects.create_superuser("api-staff", "api@example.com", "x")
    token = Token.objects.create(user=staff)
    return lambda path: client.get(f"/api/v1/{path}", HTTP_AUTHORIZATION=f"Token {token.key}")


def _bought(stripe_post, *, price_slug, amount, mode="payment", email="ada@example.com"):
    """A purchase through Checkout, then the guide's Release (what the release flow does)."""
    session = sp.checkout_session(email=email, price_slug=price_slug, amount=amount, mode=mode)
    stripe_post(sp.event("checkout.session.completed", session))
    order = Order.objects.get(checkout_session=session["id"])
    assert order.status == OrderStatus.PAID
    operation_run(
        operation=Operation.RELEASE, offering=order.offering, email=email, source="release flow"
    )
    return session, order


def _sees_the_course(client, staff_api, subscriber, course) -> tuple[bool, bool, bool]:
    """(dashboard lists it, the offering page opens, the API says the grant is active)."""
    member = Member.objects.get(subscriber=subscriber)
    client.force_login(member.user)
    dashboard = client.get(reverse("members:dashboard")).content.decode()
    page = client.get(reverse("members:offering", args=[course.slug]))
    grants = staff_api(f"members/{member.pk}/access/").json()["results"]
    active = [g["active"] for g in grants if g["offering"] == course.pk]
    return course.name in dashboard, page.status_code == 200, active == [True]


def test_a_full_refund_revokes_through_the_revoke_tag(stripe_post, sell, client, staff_api):
    # given
    course = weekly_course(FC)
    sell(course, slug="foundation", amount="197.00")
    session, order = _bought(stripe_post, price_slug="foundation", amount=19700)
    buyer = order.subscriber
    assert _sees_the_course(client, staff_api, buyer, course) == (True, True, True)

    # when
    refund = sp.charge(payment_intent=session["payment_intent"], amount=19700, refunded=19700)
    stripe_post(sp.event("charge.refunded", refund))

    # then
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (OrderStatus.REFUNDED, 197)
    assert f"{FC} – Revoke Access" in tags_of(buyer)
    assert _sees_the_course(client, staff_api, buyer, course) == (False, False, False)
    assert Purchase.objects.count() == 1


def test_a_partial_refund_keeps_access(stripe_post, sell, client, staff_api):
    # given
    course = weekly_course(FC)
    sell(course, slug="foundation", amount="197.00")
    session, order = _bought(stripe_post, price_slug="foundation", amount=19700)

    # when
    partial = sp.charge(payment_intent=session["payment_intent"], amount=19700, refunded=5000)
    stripe_post(sp.event("charge.refunded", partial))

    # then
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (OrderStatus.PARTIALLY_REFUNDED, 50)
    assert f"{FC} – Revoke Access" not in tags_of(order.subscriber)
    assert _sees_the_course(client, staff_api, order.subscriber, course) == (True, True, True)


def test_a_cancelled_subscription_revokes_and_the_renewals_before_did_not(
    stripe_post, sell, client, staff_api
):
    # given: a monthly membership, paid at checkout and renewed once
    course = weekly_course(FC)
    sell(course, slug="monthly", amount="29.00", kind=PriceKind.MONTHLY)
    session, order = _bought(stripe_post, price_slug="monthly", amount=2900, mode="subscription")
    period_end = int(time.time()) + MONTH
    first = sp.invoice(
        invoice_id=session["invoice"],
        subscription=session["subscription"],
        email="ada@example.com",
        amount=2900,
        period_end=period_end,
        price_slug="monthly",
        billing_reason="subscription_create",
    )
    stripe_post(sp.event("invoice.paid", first))
    renewal = sp.invoice(
        invoice_id="in_test_renewal",
        subscription=session["subscription"],
        email="ada@example.com",
        amount=2900,
        period_end=period_end + MONTH,
        price_slug="monthly",
    )
    stripe_post(sp.event("invoice.paid", renewal))
    subscription = Subscription.objects.get()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert int(subscription.current_period_end.timestamp()) == period_end + MONTH
    assert Purchase.objects.count() == 2  # the first invoice is the checkout's purchase

    # when
    deleted = sp.subscription(subscription_id=session["subscription"], period_end=period_end)
    stripe_post(sp.event("customer.subscription.deleted", deleted))

    # then
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCELED
    assert f"{FC} – Revoke Access" in tags_of(order.subscriber)
    assert _sees_the_course(client, staff_api, order.subscriber, course) == (False, False, False)


def test_a_failed_renewal_waits_for_stripes_retries(stripe_post, sell):
    # given
    course = weekly_course(FC)
    sell(course, slug="monthly", amount="29.00", kind=PriceKind.MONTHLY)
    session, order = _bought(stripe_post, price_slug="monthly", amount=2900, mode="subscription")

    def failed(next_attempt):
        return sp.event(
            "invoice.payment_failed",
            sp.invoice(
                invoice_id="in_test_unpaid",
                subscription=session["subscription"],
                email="ada@example.com",
                amount=2900,
                period_end=int(time.time()) + MONTH,
                price_slug="monthly",
                paid=False,
                next_payment_attempt=next_attempt,
            ),
        )

    # when: Stripe will retry
    retrying = failed(int(time.time()) + 3 * 86400)
    stripe_post(retrying)

    # then: access kept, the subscription past due
    assert "Stripe retries on" in StripeEvent.objects.get(event_id=retrying["id"]).result
    assert Subscription.objects.get().status == SubscriptionStatus.PAST_DUE
    assert f"{FC} – Revoke Access" not in tags_of(order.subscriber)

    # when: the last retry failed (no next attempt)
    stripe_post(failed(None))

    # then
    assert f"{FC} – Revoke Access" in tags_of(order.subscriber)


def test_a_product_can_remove_its_tags_instead_of_revoking(stripe_post, sell):
    # given
    course = weekly_course(FC)
    price = sell(course, slug="foundation", amount="197.00")
    price.product.on_refund = Consequence.REMOVE_TAGS
    price.product.save()
    session = sp.checkout_session(email="sam@example.com", price_slug="foundation", amount=19700)
    stripe_post(sp.event("checkout.session.completed", session))
    buyer = Order.objects.get().subscriber
    assert f"{FC} – Purchase Success" in tags_of(buyer)

    # when
    refund = sp.charge(payment_intent=session["payment_intent"], amount=19700, refunded=19700)
    stripe_post(sp.event("charge.refunded", refund))

    # then
    assert tags_of(buyer) == set()


def test_a_paid_in_full_payment_plan_ends_without_revoking(stripe_post, sell, stripe_api):
    # given: a plan of two instalments, both paid
    course = weekly_course(FC)
    sell(course, slug="plan", amount="99.00", kind=PriceKind.PLAN, instalments=2)
    session, order = _bought(stripe_post, price_slug="plan", amount=9900, mode="subscription")
    for number, invoice_id in enumerate([session["invoice"], "in_test_second"], start=1):
        paid = sp.invoice(
            invoice_id=invoice_id,
            subscription=session["subscription"],
            email="ada@example.com",
            amount=9900,
            period_end=int(time.time()) + number * MONTH,
            price_slug="plan",
        )
        stripe_post(sp.event("invoice.paid", paid))

    # then: Stripe was told to stop charging after this period
    subscription = Subscription.objects.get()
    assert (subscription.instalments_paid, subscription.cancel_at_period_end) == (2, True)
    assert stripe_api.requests[-1][:2] == (
        "POST",
        f"/v1/subscriptions/{session['subscription']}",
    )
    assert "cancel_at_period_end=true" in stripe_api.requests[-1][2]

    # when: the period ends and Stripe deletes the subscription
    deleted = sp.subscription(subscription_id=session["subscription"], period_end=0)
    stripe_post(sp.event("customer.subscription.deleted", deleted))

    # then: completed, access kept
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.COMPLETED
    assert f"{FC} – Revoke Access" not in tags_of(order.subscriber)
    assert StripeEvent.objects.filter(status=EventStatus.FAILED).count() == 0

"""Revenue per offering and per month, refunds and active subscriptions on the admin home,
as an SVG chart drawn on the server (no script)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.commerce.models import Order, StripeEvent, Subscription
from apps.commerce.reports import sales_report
from apps.commerce.services import Sale, order_refund, sale_record
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def _sold(offering, *, on: datetime, amount: str, ref: str, currency="USD"):
    sale = Sale(
        source="checkout",
        external_id=ref,
        email=f"{ref}@example.com",
        currency=currency,
        amount=Decimal(amount),
        description=offering.name,
        paid_at=on,
    )
    return sale_record(sale=sale, offering=offering)[0]


@time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False)
def test_revenue_per_offering_and_month_with_refunds_and_active_subscriptions(admin_client):
    # given
    foundation, advanced = weekly_course("Foundation"), weekly_course("Advanced")
    _sold(foundation, on=datetime(2026, 10, 3, tzinfo=UTC), amount="197.00", ref="a")
    _sold(foundation, on=datetime(2026, 11, 2, tzinfo=UTC), amount="197.00", ref="b")
    refunded = _sold(advanced, on=datetime(2026, 11, 5, tzinfo=UTC), amount="297.00", ref="c")
    _sold(advanced, on=datetime(2026, 11, 6, tzinfo=UTC), amount="90.00", ref="d", currency="EUR")
    _sold(foundation, on=datetime(2025, 1, 6, tzinfo=UTC), amount="50.00", ref="too-old")
    order_refund(order=refunded, amount_refunded=Decimal("297.00"), full=True, source="test")
    Subscription.objects.create(
        stripe_id="sub_1", subscriber=SubscriberFactory(), started_at=datetime.now(UTC)
    )

    # when
    report = sales_report()
    home = admin_client.get(reverse("admin:index")).content.decode()

    # then
    assert report.currency == "USD" and report.other_currencies == ["EUR"]
    rows = {row["month"]: row for row in report.rows}
    assert list(rows) == ["2026-10", "2026-11"]
    names = [name for name, _ in report.offerings]
    assert names == ["Foundation", "Advanced"]  # by revenue (a refund stays in gross revenue)
    assert rows["2026-11"]["by_offering"] == [Decimal("197.00"), Decimal("297.00")]
    assert rows["2026-10"]["by_offering"] == [Decimal("197.00"), Decimal(0)]
    assert rows["2026-11"]["refunds"] == Decimal("297.00")
    assert (report.revenue_total, report.refunds_total) == (Decimal("691.00"), Decimal("297.00"))
    assert report.active_subscriptions == 1
    assert len(report.bars) == 3 and len(report.labels) == 12
    assert '<svg class="sales-chart"' in home and home.count("<rect x=") == 3
    assert "2026-11 · Advanced: 297.00 USD" in home
    assert "<script" not in home.split('id="sales"')[1].split("</div>")[0]


@time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False)
def test_the_report_costs_the_same_queries_for_many_orders():
    course = weekly_course("Foundation")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            sales_report()
        return len(captured)

    _sold(course, on=datetime(2026, 11, 2, tzinfo=UTC), amount="10.00", ref="first")
    few = queries()
    for n in range(20):
        _sold(course, on=datetime(2026, 1 + n % 11, 2, tzinfo=UTC), amount="10.00", ref=f"r{n}")
    assert queries() == few


def test_failed_events_and_flagged_payments_show_on_health(admin_client, stripe_post):
    from tests.commerce import stripe_payloads as sp

    # given: a payment for a price nobody sells
    session = sp.checkout_session(email="x@example.com", price_slug="gone", amount=100)
    stripe_post(sp.event("checkout.session.completed", session))

    # when
    home = admin_client.get(reverse("admin:index")).content.decode()

    # then
    flagged = home.split("Payments flagged (24 h)")[1]
    assert 'status__exact=flagged">1</a>' in flagged.split("</tr>")[0]


def test_orders_show_on_the_subscribers_timeline(stripe_post, sell):
    from apps.crm.timeline import subscriber_timeline
    from tests.commerce import stripe_payloads as sp

    # given
    sell(weekly_course("Foundation"), slug="foundation", amount="197.00")
    session = sp.checkout_session(email="tim@example.com", price_slug="foundation", amount=19700)
    stripe_post(sp.event("checkout.session.completed", session))
    order = Order.objects.get()

    # when
    entries = subscriber_timeline(subscriber=order.subscriber)

    # then
    titles = [e.title for e in entries if e.kind == "order"]
    assert titles == ["Order: 197.00 USD (checkout)"]


def test_the_sales_admin_pages_open(admin_client, stripe_post, sell):
    from tests.commerce import stripe_payloads as sp

    # given: one of everything
    sell(weekly_course("Foundation"), slug="monthly", amount="29.00", kind="monthly")
    session = sp.checkout_session(
        email="ann@example.com", price_slug="monthly", amount=2900, mode="subscription"
    )
    stripe_post(sp.event("checkout.session.completed", session))
    stripe_post(sp.event("charge.refunded", {"id": "ch_x", "object": "charge"}))
    pages = [
        reverse(f"admin:commerce_{model}_changelist")
        for model in ("product", "order", "subscription", "stripeevent")
    ]
    pages += [
        reverse("admin:commerce_product_change", args=[Order.objects.get().price.product_id]),
        reverse("admin:commerce_order_change", args=[Order.objects.get().pk]),
        reverse("admin:commerce_stripeevent_change", args=[StripeEvent.objects.first().pk]),
    ]

    # when / then
    for page in pages:
        assert admin_client.get(page).status_code == 200, page
    ignored = StripeEvent.objects.get(type="charge.refunded")
    assert ignored.status == "ignored" and "No order Tessera recorded" in ignored.result

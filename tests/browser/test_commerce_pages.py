"""The order form, Stripe's page, the thank-you page and My orders, the way a buyer uses
them. Stripe's API is a local server answering as Stripe documents; the completion is
Stripe's signed checkout.session.completed, posted as Stripe would."""

import time
from decimal import Decimal

import pytest
import stripe
from django.test import Client

from apps.commerce.models import Order, PriceKind
from apps.commerce.services import product_create
from apps.members.services import member_login_ensure
from tests.commerce import stripe_payloads as sp
from tests.commerce.fake_stripe import FakeStripe
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long member password"


@pytest.fixture
def shop(settings, live_server, monkeypatch):
    settings.SITE_URL = live_server.url
    settings.STRIPE_SECRET_KEY = "sk_test_tessera"
    settings.STRIPE_WEBHOOK_SECRET = sp.WEBHOOK_SECRET
    with FakeStripe() as fake:
        monkeypatch.setattr(stripe, "api_base", fake.url)
        settings.STRIPE_REDIRECT_ORIGINS = [fake.url.rstrip("/")]
        monkeypatch.setattr(stripe, "max_network_retries", 0)
        yield fake


def _on_sale(offering, *, slug, amount, kind=PriceKind.ONE_TIME):
    return product_create(
        offering=offering,
        name=offering.name,
        slug=slug,
        amount=Decimal(amount),
        kind=kind,
        description="Twelve weeks, one module a week, lessons you keep for life.",
    )


def test_the_order_form_goes_to_stripe_and_the_thank_you_page_says_what_happens_next(
    live_server, page, screenshot, shop
):
    # given
    _on_sale(weekly_course("Foundation Course"), slug="foundation", amount="197.00")

    # when: the buyer fills the order form
    page.goto(f"{live_server.url}/buy/foundation/")
    assert "197.00 USD" in page.inner_text(".price")
    page.fill("#id_email", "ada@example.com")
    page.fill("#id_name", "Ada Lovelace")
    screenshot("order-form")
    page.click("#pay")

    # then: on Stripe's Checkout page for the session Tessera opened
    page.wait_for_url(f"{shop.url}/c/pay/**")
    assert page.inner_text("h1") == "Checkout"
    session_id = page.url.rsplit("/", 1)[1]
    success_url = shop.sessions[session_id]["success_url"]
    assert success_url.startswith(f"{live_server.url}/buy/thanks/")

    # when: back before Stripe's event arrived
    page.goto(success_url.replace("{CHECKOUT_SESSION_ID}", session_id))
    assert "We are confirming your payment" in page.inner_text("#order-pending")

    # when: Stripe completes the session and sends its signed event
    paid = sp.checkout_session(
        email="ada@example.com", price_slug="foundation", amount=19700, session_id=session_id
    )
    assert sp.post_event(Client(), sp.event("checkout.session.completed", paid)).status_code == 200
    page.reload()

    # then
    confirmed = page.inner_text("#order-confirmed")
    assert "Your payment is confirmed for Foundation Course (197.00 USD)" in confirmed
    assert "What happens next" in confirmed and "ada@example.com" in confirmed
    screenshot("thank-you")
    assert Order.objects.get().checkout_session == session_id


def test_my_orders_lists_purchases_with_receipts_and_the_subscriptions_next_payment(
    live_server, page, screenshot, shop
):
    # given: a member who bought two courses and subscribed to the membership
    client = Client()
    buyer = SubscriberFactory(email="mia@example.com", first_name="Mia")
    login = member_login_ensure(subscriber=buyer, source="test")
    login.member.user.set_password(PASSWORD)
    login.member.user.save()
    _on_sale(weekly_course("Foundation Course"), slug="foundation", amount="197.00")
    _on_sale(weekly_course("Advanced Course"), slug="advanced", amount="297.00")
    _on_sale(weekly_course("Inner Circle"), slug="circle", amount="29.00", kind=PriceKind.MONTHLY)
    receipts = []
    for slug, cents in (("foundation", 19700), ("advanced", 29700)):
        session = sp.checkout_session(email=buyer.email, price_slug=slug, amount=cents)
        charge = sp.charge(payment_intent=session["payment_intent"], amount=cents)
        receipts.append(charge["receipt_url"])
        # Stripe does not order its events: the receipt comes before one purchase, after the other
        events = [("charge.succeeded", charge), ("checkout.session.completed", session)]
        for kind, obj in events if slug == "foundation" else events[::-1]:
            sp.post_event(client, sp.event(kind, obj))
    membership = sp.checkout_session(
        email=buyer.email, price_slug="circle", amount=2900, mode="subscription"
    )
    sp.post_event(client, sp.event("checkout.session.completed", membership))
    next_payment = int(time.time()) + 30 * 86400
    first_invoice = sp.invoice(
        invoice_id=membership["invoice"],
        subscription=membership["subscription"],
        email=buyer.email,
        amount=2900,
        period_end=next_payment,
        price_slug="circle",
        billing_reason="subscription_create",
    )
    sp.post_event(client, sp.event("invoice.paid", first_invoice))
    receipts.append(first_invoice["hosted_invoice_url"])

    # when
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_email", "mia@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("button[value=password]")
    page.click("text=My orders")

    # then: three payments, each with Stripe's receipt; the subscription's next payment date
    rows = page.locator("#orders tr.order")
    assert rows.count() == 3
    links = {rows.nth(i).locator("a.receipt").get_attribute("href") for i in range(3)}
    assert links == set(receipts)
    listed = page.inner_text("#orders")
    for name in ("Foundation Course", "Advanced Course", "Inner Circle"):
        assert name in listed
    subscription = page.locator("#subscriptions tr.subscription")
    assert subscription.count() == 1
    due = time.gmtime(next_payment)
    assert subscription.locator(".next-payment").inner_text() == time.strftime(
        f"{due.tm_mday} %B %Y", due
    )
    assert "29.00 USD a month" in subscription.inner_text()
    screenshot("my-orders")

    # when: the member manages billing
    page.click("#manage-billing")

    # then: Stripe's customer portal for their customer
    page.wait_for_url(f"{shop.url}/p/session/**")
    portal = next(body for method, path, body in shop.requests if path.endswith("portal/sessions"))
    assert f"customer={membership['customer']}" in portal


def test_the_admin_home_shows_revenue_per_month_and_offering_as_a_chart(
    live_server, page, shop, django_user_model
):
    # given: sales over the last months, one refunded, and an active subscription
    from datetime import timedelta

    from django.utils import timezone

    from apps.commerce.models import Subscription
    from apps.commerce.services import Sale, order_refund, sale_record

    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    courses = [weekly_course("Foundation Course"), weekly_course("Advanced Course")]
    now = timezone.now()
    for n in range(14):
        course = courses[n % 2]
        sale = Sale(
            source="checkout",
            external_id=f"pi_chart_{n}",
            email=f"buyer{n}@example.com",
            currency="USD",
            amount=Decimal("197.00") if n % 2 == 0 else Decimal("297.00"),
            description=course.name,
            paid_at=now - timedelta(days=25 * (n // 2)),
        )
        order, _ = sale_record(sale=sale, offering=course)
    order_refund(order=order, amount_refunded=order.amount, full=True, source="test")
    Subscription.objects.create(stripe_id="sub_chart", subscriber=order.subscriber, started_at=now)

    # when
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    # then
    chart = page.locator("#sales svg.sales-chart")
    chart.wait_for()
    assert page.locator("#sales svg.sales-chart rect").count() >= 7
    assert "Foundation Course" in page.inner_text("#sales .sales-legend")
    page.locator("#sales").screenshot(path=str(_shots() / "admin-sales.png"))


def _shots():
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

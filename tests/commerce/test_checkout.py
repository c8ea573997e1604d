"""Order forms open a Stripe Checkout Session through the official library, pointed at a
local server that answers as Stripe's API documents."""

from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from apps.commerce.models import PriceKind
from apps.members.models import Operation
from apps.members.services import operation_run
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db
FC = "Foundation Course"


def _form_sent(fake, path: str) -> dict:
    body = next(body for method, p, body in fake.requests if method == "POST" and p == path)
    return {k: v[0] for k, v in parse_qs(body).items()}


def test_the_order_form_opens_a_checkout_session_with_the_price_and_buyer(
    client, sell, stripe_api, settings
):
    # given
    settings.SITE_URL = "https://courses.example.com"
    sell(weekly_course(FC), slug="foundation", amount="197.00")

    # when
    response = client.post(
        reverse("commerce:order_form", args=["foundation"]),
        {"email": "ada@example.com", "name": "Ada Lovelace", "coupon": ""},
    )

    # then: the buyer is sent to Stripe's page for the session
    assert response.status_code == 303
    session_id, session = next(iter(stripe_api.sessions.items()))
    assert response["Location"] == f"{stripe_api.url}/c/pay/{session_id}"
    customer = _form_sent(stripe_api, "/v1/customers")
    assert (customer["email"], customer["name"]) == ("ada@example.com", "Ada Lovelace")
    sent = session["form"]
    assert sent["mode"] == "payment"
    assert sent["metadata[tessera_price]"] == "foundation"
    assert sent["payment_intent_data[metadata][tessera_price]"] == "foundation"
    assert sent["line_items[0][price_data][unit_amount]"] == "19700"
    assert sent["line_items[0][price_data][currency]"] == "usd"
    assert sent["allow_promotion_codes"] == "true"
    assert sent["success_url"] == (
        "https://courses.example.com/buy/thanks/?session_id={CHECKOUT_SESSION_ID}"
    )
    assert sent["cancel_url"] == "https://courses.example.com/buy/foundation/"
    assert stripe_api.requests[-1][0:2] == ("POST", "/v1/checkout/sessions")


def test_a_subscription_price_opens_a_subscription_checkout_with_a_coupon(client, sell, stripe_api):
    # given
    sell(weekly_course(FC), slug="monthly", amount="29.00", kind=PriceKind.MONTHLY)

    # when
    response = client.post(
        reverse("commerce:order_form", args=["monthly"]),
        {"email": "ada@example.com", "name": "Ada", "coupon": "LAUNCH20"},
    )

    # then
    assert response.status_code == 303
    sent = next(iter(stripe_api.sessions.values()))["form"]
    assert sent["mode"] == "subscription"
    assert sent["line_items[0][price_data][recurring][interval]"] == "month"
    assert sent["subscription_data[metadata][tessera_price]"] == "monthly"
    assert sent["discounts[0][promotion_code]"] == "promo_test_launch20"
    assert "allow_promotion_codes" not in sent


def test_an_unknown_coupon_keeps_the_buyer_on_the_form_and_says_so(client, sell, stripe_api):
    # given
    sell(weekly_course(FC), slug="foundation")

    # when
    response = client.post(
        reverse("commerce:order_form", args=["foundation"]),
        {"email": "ada@example.com", "name": "Ada", "coupon": "NOPE"},
    )

    # then
    assert response.status_code == 200
    assert "The coupon code &#x27;NOPE&#x27; is not valid" in response.content.decode()
    assert not stripe_api.sessions


def test_stripe_unreachable_keeps_the_form_and_asks_to_retry(client, sell, monkeypatch):
    # given: nothing listens where the library is pointed
    import socket

    import stripe

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(stripe, "api_base", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    sell(weekly_course(FC), slug="foundation")

    # when
    response = client.post(
        reverse("commerce:order_form", args=["foundation"]),
        {"email": "ada@example.com", "name": "Ada"},
    )

    # then
    assert response.status_code == 200
    assert "The payment page could not be opened" in response.content.decode()


def test_without_stripe_keys_the_form_is_hidden_and_the_admin_says_what_to_set(
    client, admin_client, sell, settings
):
    # given
    settings.STRIPE_SECRET_KEY = ""
    sell(weekly_course(FC), slug="foundation")

    # when
    page = client.get(reverse("commerce:order_form", args=["foundation"]))
    home = admin_client.get(reverse("admin:index")).content.decode()

    # then
    assert page.status_code == 503
    assert 'id="order-form"' not in page.content.decode()
    assert "payments are not set up on this site" in page.content.decode()
    assert "Set STRIPE_SECRET_KEY" in home and "STRIPE_WEBHOOK_SECRET" in home


def test_a_logged_in_member_finds_their_name_and_email_prefilled(client, sell, stripe_api):
    # given
    course = weekly_course(FC)
    sell(course, slug="foundation")
    operation_run(
        operation=Operation.RELEASE, offering=course, email="grace@example.com", source="test"
    )
    from apps.members.models import Member

    member = Member.objects.get()
    member.subscriber.first_name = "Grace"
    member.subscriber.save()
    client.force_login(member.user)

    # when
    page = client.get(reverse("commerce:order_form", args=["foundation"])).content.decode()

    # then
    assert 'value="grace@example.com"' in page and 'value="Grace"' in page


def test_an_unknown_price_is_a_404(client):
    assert client.get(reverse("commerce:order_form", args=["nothing"])).status_code == 404


def test_my_orders_costs_the_same_queries_for_many_orders(client, sell, stripe_post):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.members.models import Member
    from tests.commerce import stripe_payloads as sp

    # given
    course = weekly_course(FC)
    sell(course, slug="foundation", amount="10.00")
    operation_run(
        operation=Operation.RELEASE, offering=course, email="ada@example.com", source="test"
    )
    client.force_login(Member.objects.get().user)

    def buy_and_count() -> int:
        session = sp.checkout_session(email="ada@example.com", price_slug="foundation", amount=1000)
        stripe_post(sp.event("checkout.session.completed", session))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("commerce:my_orders")).status_code == 200
        return len(captured)

    # when
    one = buy_and_count()
    for _ in range(5):
        buy_and_count()
    many = buy_and_count()

    # then
    assert many == one


def test_the_thank_you_page_says_a_flagged_payment_is_being_checked(client, sell, stripe_post):
    from tests.commerce import stripe_payloads as sp

    # given: paid in euros for a dollar price
    sell(weekly_course(FC), slug="foundation", amount="197.00")
    session = sp.checkout_session(
        email="ada@example.com", price_slug="foundation", amount=19700, currency="eur"
    )
    stripe_post(sp.event("checkout.session.completed", session))

    # when
    page = client.get(reverse("commerce:thanks"), {"session_id": session["id"]}).content.decode()

    # then
    assert "the team is checking it" in page and "http-equiv" not in page


def test_putting_an_offering_on_sale_says_what_is_wrong():
    from decimal import Decimal

    from django.core.exceptions import ValidationError

    from apps.commerce.services import product_create

    course = weekly_course(FC)
    product_create(offering=course, name="FC", slug="fc", amount=Decimal("10"))
    for kwargs, message in [
        ({"slug": "fc", "amount": Decimal("10")}, "already uses the address /buy/fc/"),
        ({"slug": "free", "amount": Decimal("0")}, "more than zero"),
        ({"slug": "plan", "amount": Decimal("10"), "kind": "plan"}, "at least two"),
    ]:
        with pytest.raises(ValidationError, match=message):
            product_create(offering=course, name="FC", **kwargs)

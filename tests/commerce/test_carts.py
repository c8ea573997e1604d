"""Carts creators already use post their documented order notices to a purchase URL minted
in the Webhook Generator: one purchase and its tags each, the same as a Checkout sale, and a
second delivery of the same order changes nothing."""

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from apps.commerce.models import Order
from apps.crm.models import Purchase
from apps.members.models import CallStatus, Operation, WebhookCall, WebhookEndpoint
from apps.members.purchases import Cart
from apps.members.services import endpoint_mint
from tests.automations.helpers import tags_of
from tests.offerings.helpers import weekly_course

from . import stripe_payloads as sp

pytestmark = pytest.mark.django_db
FC = "Foundation Course"
FORM = "application/x-www-form-urlencoded"


def thrivecart(secret: str) -> tuple[str, str, dict]:
    """ThriveCart's order.success notice: form fields, prices in cents."""
    fields = {
        "event": "order.success",
        "mode": "live",
        "thrivecart_account": "creator",
        "thrivecart_secret": secret,
        "base_product": "12",
        "base_product_name": "Foundation Course",
        "order_id": "4457812",
        "invoice_id": "000000123",
        "currency": "USD",
        "customer_id": "991",
        "customer[id]": "991",
        "customer[email]": "tc.buyer@example.com",
        "customer[name]": "Tara Cole",
        "customer[firstname]": "Tara",
        "customer[lastname]": "Cole",
        "order[id]": "4457812",
        "order[tax]": "0",
        "order[processor]": "stripe",
        "order[total]": "19700",
        "order[charges][0][name]": "Foundation Course",
        "order[charges][0][amount]": "19700",
        "order[charges][0][type]": "single",
        "purchase_map_flat": "product-12",
    }
    return urlencode(fields), FORM, {}


def samcart(_secret: str) -> tuple[str, str, dict]:
    body = {
        "type": "Order",
        "created_at": "2026-11-27 10:00:00",
        "customer": {
            "id": 5521,
            "first_name": "Sam",
            "last_name": "Carter",
            "email": "sc.buyer@example.com",
        },
        "order": {
            "id": 889123,
            "customer_id": 5521,
            "processor_transaction_id": "ch_3Nsam",
            "subtotal": "197.00",
            "tax": "0.00",
            "total": "197.00",
            "currency": "USD",
        },
        "products": [{"id": 301, "name": "Foundation Course", "sku": "FC", "price": "197.00"}],
    }
    return json.dumps(body), "application/json", {}


def woocommerce(secret: str) -> tuple[str, str, dict]:
    """A WooCommerce order webhook: the order resource, signed with the webhook's secret."""
    body = json.dumps(
        {
            "id": 4750,
            "parent_id": 0,
            "number": "4750",
            "order_key": "wc_order_Q6tuhq12KJOel",
            "created_via": "checkout",
            "status": "processing",
            "currency": "USD",
            "discount_total": "0.00",
            "total": "197.00",
            "total_tax": "0.00",
            "customer_id": 7,
            "billing": {
                "first_name": "Wanda",
                "last_name": "Cole",
                "email": "wc.buyer@example.com",
                "country": "US",
            },
            "payment_method": "stripe",
            "date_paid_gmt": "2026-11-27T10:00:00",
            "line_items": [
                {
                    "id": 90,
                    "name": "Foundation Course",
                    "product_id": 23,
                    "quantity": 1,
                    "subtotal": "197.00",
                    "total": "197.00",
                    "price": 197,
                }
            ],
        }
    )
    signature = base64.b64encode(
        hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    ).decode()
    headers = {
        "HTTP_X_WC_WEBHOOK_SIGNATURE": signature,
        "HTTP_X_WC_WEBHOOK_TOPIC": "order.created",
        "HTTP_X_WC_WEBHOOK_RESOURCE": "order",
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": "36e520ebabc2fa725092ff4a47acedf2",
    }
    return body, "application/json", headers


def gumroad(seller_id: str) -> tuple[str, str, dict]:
    """Gumroad's ping: form fields, the price in cents, the seller id as the check."""
    fields = {
        "seller_id": seller_id,
        "product_id": "cwI_7Bu-Ux0sVYtbNSpQ6g==",
        "product_name": "Foundation Course",
        "permalink": "foundation",
        "product_permalink": "https://creator.gumroad.com/l/foundation",
        "short_product_id": "foundation",
        "email": "gr.buyer@example.com",
        "full_name": "Greta Ruiz",
        "price": "19700",
        "currency": "usd",
        "quantity": "1",
        "order_number": "524459935",
        "sale_id": "FO8TXN-dvxYabdavG97Y-Q==",
        "sale_timestamp": "2026-11-27T10:00:00Z",
        "purchaser_id": "3523953790232",
        "test": "false",
        "refunded": "false",
        "disputed": "false",
        "can_contact": "true",
    }
    return urlencode(fields), FORM, {}


def stripe_link(secret: str) -> tuple[str, str, dict]:
    session = sp.checkout_session(
        email="pl.buyer@example.com", price_slug=None, amount=19700, payment_link="plink_test_1"
    )
    body, header = sp.signed(sp.event("checkout.session.completed", session), secret=secret)
    return body, "application/json", {"HTTP_STRIPE_SIGNATURE": header}


CARTS = [
    (Cart.THRIVECART, "my-secret-word", thrivecart, "tc.buyer@example.com", "thrivecart:4457812"),
    (Cart.SAMCART, "", samcart, "sc.buyer@example.com", "samcart:889123"),
    (
        Cart.WOOCOMMERCE,
        "wc-webhook-secret",
        woocommerce,
        "wc.buyer@example.com",
        "woocommerce:wc_order_Q6tuhq12KJOel",
    ),
    (
        Cart.GUMROAD,
        "gumroad-seller-42",
        gumroad,
        "gr.buyer@example.com",
        "gumroad:FO8TXN-dvxYabdavG97Y-Q==",
    ),
    (Cart.STRIPE_LINK, sp.WEBHOOK_SECRET, stripe_link, "pl.buyer@example.com", None),
]


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def send(endpoint, body: str, content_type: str, headers: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(endpoint.path, body, content_type=content_type, **headers)

    return send


@pytest.mark.parametrize(("cart", "secret", "notice", "email", "transaction"), CARTS)
def test_each_carts_order_makes_one_purchase_and_its_tags_and_a_replay_none(
    post, cart, secret, notice, email, transaction
):
    # given
    course = weekly_course(FC)
    endpoint = endpoint_mint(
        operation=Operation.PURCHASE, offering=course, cart=cart, cart_secret=secret
    )
    body, content_type, headers = notice(secret)

    # when
    first = post(endpoint, body, content_type, headers)
    again = post(endpoint, body, content_type, headers)

    # then: one purchase, in Kit's shape, and the offering's purchase tag
    assert first.status_code == 202, first.content
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    call = WebhookCall.objects.get(endpoint=endpoint)
    assert call.status == CallStatus.DONE, call.error
    purchase = Purchase.objects.get()
    assert purchase.email_address == email
    assert (purchase.total, purchase.currency) == (197, "USD")
    if transaction:
        assert purchase.transaction_id == transaction
    order = Order.objects.get()
    assert (order.source, order.purchase, order.offering) == (cart, purchase, course)
    assert tags_of(purchase.subscriber) == {f"{FC} – Purchase Success"}

    # when: the call is replayed from the log
    with_replay = WebhookCall.objects.get()
    from apps.members.services import webhook_call_replay, webhook_calls_process

    webhook_call_replay(call=with_replay)
    webhook_calls_process()

    # then: nothing more
    assert Purchase.objects.count() == 1 and Order.objects.count() == 1
    with_replay.refresh_from_db()
    assert "already recorded" in with_replay.result


@pytest.mark.parametrize(
    ("cart", "notice", "error"),
    [
        (Cart.THRIVECART, thrivecart, "thrivecart_secret does not match"),
        (Cart.WOOCOMMERCE, woocommerce, "X-WC-Webhook-Signature"),
        (Cart.GUMROAD, gumroad, "seller_id is not the Gumroad seller id"),
        (Cart.STRIPE_LINK, stripe_link, "Stripe-Signature does not verify"),
    ],
)
def test_a_carts_wrong_secret_is_refused_and_changes_nothing(post, cart, notice, error):
    # given
    endpoint = endpoint_mint(
        operation=Operation.PURCHASE, offering=weekly_course(FC), cart=cart, cart_secret="right"
    )
    body, content_type, headers = notice("wrong")

    # when
    response = post(endpoint, body, content_type, headers)

    # then
    assert response.status_code == 403 and error in response.json()["error"]
    call = WebhookCall.objects.get()
    assert (call.status, call.http_status) == (CallStatus.REFUSED, 403)
    assert not Purchase.objects.exists() and not Order.objects.exists()


def test_a_notice_that_is_not_a_sale_is_acknowledged_and_ignored(post):
    # given
    endpoint = endpoint_mint(
        operation=Operation.PURCHASE,
        offering=weekly_course(FC),
        cart=Cart.THRIVECART,
        cart_secret="word",
    )
    body, content_type, headers = thrivecart("word")
    body = body.replace("event=order.success", "event=order.subscription_payment")

    # when
    response = post(endpoint, body, content_type, headers)

    # then
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert not Purchase.objects.exists()


def test_a_notice_without_the_buyers_email_fails_and_says_where_it_looked(post):
    # given
    endpoint = endpoint_mint(
        operation=Operation.PURCHASE, offering=weekly_course(FC), cart=Cart.SAMCART
    )

    # when
    response = post(
        endpoint, json.dumps({"type": "Order", "order": {"id": 1}}), "application/json", {}
    )

    # then
    assert response.status_code == 202
    call = WebhookCall.objects.get()
    assert call.status == CallStatus.FAILED
    assert "No buyer email in the order: expected it in customer.email" in call.error


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cart": ""}, "needs its cart"),
        ({"cart": Cart.THRIVECART}, "ThriveCart's secret word"),
        ({"cart": Cart.GUMROAD}, "Gumroad seller id"),
    ],
)
def test_minting_a_purchase_url_says_what_is_missing(kwargs, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match=message):
        endpoint_mint(operation=Operation.PURCHASE, offering=weekly_course(FC), **kwargs)


def test_the_generator_page_mints_a_purchase_url_and_says_what_is_missing(admin_client):
    # given
    course = weekly_course(FC)
    page = "/admin/members/webhookendpoint/"

    # when
    missing = admin_client.post(
        page, {"operation": "purchase", "offering": course.pk, "cart": "woocommerce"}
    )
    minted = admin_client.post(
        page,
        {
            "operation": "purchase",
            "offering": course.pk,
            "cart": "woocommerce",
            "cart_secret": "wc-secret",
        },
    )

    # then
    assert "the WooCommerce webhook&#x27;s secret" in missing.content.decode()
    assert minted.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.operation, endpoint.cart, endpoint.cart_secret) == (
        "purchase",
        "woocommerce",
        "wc-secret",
    )
    listed = admin_client.get(page).content.decode()
    assert "Record Purchase (a cart&#x27;s webhook)" in listed and "WooCommerce" in listed


def test_the_api_mints_a_purchase_url_with_its_cart(client, django_user_model):
    from rest_framework.authtoken.models import Token

    # given
    staff = django_user_model.objects.create_superuser("api", "api@example.com", "x")
    token = Token.objects.create(user=staff)

    # when
    minted = client.post(
        "/api/v1/webhook-endpoints/",
        {
            "operation": "purchase",
            "offering": weekly_course(FC).pk,
            "cart": "gumroad",
            "cart_secret": "seller-1",
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )

    # then: the cart is shown, its secret never
    assert minted.status_code == 201, minted.content
    assert minted.json()["cart"] == "gumroad" and "cart_secret" not in minted.json()
    assert WebhookEndpoint.objects.get().cart_secret == "seller-1"

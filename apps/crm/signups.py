"""Forms (with double opt-in) and purchases: the ways people arrive in the CRM."""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import event_types, lock_objects
from .events import event_record, events_record_bulk
from .messaging.outbox import emails_enqueue
from .messaging.rendering import Draft
from .models import EmailKind, Form, FormSubscription, Purchase, Subscriber, SubscriberState
from .services import subscriber_fields_set, subscriber_get_or_create

CONFIRM_SALT = "tessera.crm.form_confirm"


def form_confirm_url(subscription: FormSubscription) -> str:
    token = signing.dumps(subscription.pk, salt=CONFIRM_SALT)
    return f"{settings.SITE_URL}{reverse('crm:form_confirm', args=[token])}"


@transaction.atomic
def form_subscribe(
    *,
    form: Form,
    email: str,
    first_name: str = "",
    fields: dict | None = None,
    tag_ids: list[int] | None = None,
    referrer: str = "",
) -> FormSubscription:
    """Subscribe through a form. With double opt-in a new person stays inactive and gets a
    confirmation email; otherwise (or once confirmed) the form_subscribe event fires, which
    applies the form's tags and starts automations. Custom fields must exist already."""
    subscriber, created = subscriber_get_or_create(
        email=email,
        first_name=first_name,
        state=SubscriberState.INACTIVE if form.double_opt_in else SubscriberState.ACTIVE,
    )
    if fields:
        subscriber_fields_set(subscriber=subscriber, values=fields)
    subscription, _ = FormSubscription.objects.get_or_create(
        form=form, subscriber=subscriber, defaults={"referrer": referrer[:500]}
    )
    if subscription.state == "active":
        return subscription
    subscription.tag_ids = sorted({*subscription.tag_ids, *(tag_ids or [])})
    subscription.save(update_fields=["tag_ids"])
    if form.double_opt_in and subscriber.state != SubscriberState.ACTIVE:
        emails_enqueue(
            [
                Draft(
                    subscriber=subscriber,
                    key=f"confirm:{subscription.pk}:{timezone.now():%Y%m%d%H%M}",
                    kind=EmailKind.SYSTEM,
                    is_marketing=False,
                    subject=f"Confirm your subscription: {form.title or form.name}",
                    # No name in the greeting: the name is whatever the form's sender typed,
                    # and this goes to an address not yet confirmed (no text of theirs relayed).
                    body=(
                        "Hello,\n\n"
                        f"Please confirm your subscription:\n{form_confirm_url(subscription)}\n"
                        "\nIf you did not ask for this, ignore this email: nothing more will be "
                        "sent.\n"
                    ),
                )
            ]
        )
        return subscription
    _activate(subscription)
    return subscription


def _activate(subscription: FormSubscription) -> None:
    subscription.state, subscription.confirmed_at = "active", timezone.now()
    subscription.save(update_fields=["state", "confirmed_at"])
    event_record(
        subscriber_id=subscription.subscriber_id,
        type=event_types.FORM_SUBSCRIBE,
        payload={
            "form_id": subscription.form_id,
            "tag_ids": sorted({*subscription.form.tag_ids, *subscription.tag_ids}),
        },
    )


@transaction.atomic
def form_confirm(*, token: str) -> FormSubscription | None:
    """The link in the confirmation email: the subscriber becomes active (Kit's "confirmed")."""
    try:
        pk = signing.loads(token, salt=CONFIRM_SALT)
    except signing.BadSignature:
        return None
    subscription = lock_objects.form_subscription(pk=pk)
    if subscription is None:
        return None
    subscriber = subscription.subscriber
    if subscriber.state == SubscriberState.INACTIVE:
        Subscriber.objects.filter(pk=subscriber.pk).update(state=SubscriberState.ACTIVE)
        event_record(subscriber_id=subscriber.pk, type=event_types.SUBSCRIBER_ACTIVATE)
    if subscription.state != "active":
        _activate(subscription)
    return subscription


# The amount columns hold 12 digits, 2 after the point.
MONEY_MAX = Decimal(10) ** 10
PURCHASE_TEXT_MAX = {"transaction_id": 255, "status": 32}


def _money(data: dict, name: str) -> Decimal:
    value = data.get(name)
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a number, got {value!r}.")
    try:
        amount = Decimal(str(value or 0))
    except InvalidOperation:
        raise ValidationError(f"{name} must be a number, got {value!r}.") from None
    if not amount.is_finite() or abs(amount) >= MONEY_MAX:
        raise ValidationError(
            f"{name} must be a number below {MONEY_MAX:,.0f} in absolute value, got {value!r}."
        )
    return amount


def _purchase_products(data: dict) -> list:
    """The purchase's products, once every required value (its own and each product's) is
    there; one message names all the blank ones."""
    missing = [k for k in ("transaction_id", "email_address") if not data.get(k)]
    products = data.get("products") or []
    if not isinstance(products, list):
        raise ValidationError("products must be a list.")
    for i, product in enumerate(products):
        if not isinstance(product, dict):
            raise ValidationError(f"products[{i}] must be an object.")
        missing += [f"products[{i}].{k}" for k in ("pid", "lid") if product.get(k) in (None, "")]
    if missing:
        raise ValidationError(f"{', '.join(missing)} can't be blank")
    return products


def _purchase_text_check(data: dict) -> None:
    for name in ("transaction_id", "email_address", "status", "currency"):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise ValidationError(f"{name} must be text, got {type(value).__name__}.")
    for name, longest in PURCHASE_TEXT_MAX.items():
        if len(str(data.get(name) or "")) > longest:
            raise ValidationError(f"{name} is longer than {longest} characters.")


def _purchase_time(data: dict):
    """The purchase's ``transaction_time`` parsed, None when not given."""
    when = data.get("transaction_time")
    try:
        parsed = parse_datetime(when) if isinstance(when, str) else None
    except ValueError:
        parsed = None
    if when and parsed is None:
        raise ValidationError(f"transaction_time is not a date and time: {when!r}.")
    return parsed


def _purchase_currency(data: dict) -> str:
    currency = str(data.get("currency") or "USD").upper()
    if len(currency) != 3:
        raise ValidationError("currency must be a 3-letter code such as USD.")
    return currency


def _purchase_events(subscriber: Subscriber, purchase: Purchase, products: list) -> None:
    events_record_bulk(
        events=[
            (subscriber.pk, event_types.PURCHASE_CREATE, {"purchase_id": purchase.pk}),
            *[
                (
                    subscriber.pk,
                    event_types.PRODUCT_PURCHASE,
                    {"purchase_id": purchase.pk, "product_id": str(p["pid"])},
                )
                for p in products
            ],
        ]
    )


@transaction.atomic
def purchase_create(*, data: dict) -> Purchase:
    """Record a purchase in Kit's v3 shape; the same transaction_id again returns the first."""
    products = _purchase_products(data)
    _purchase_text_check(data)
    existing = Purchase.objects.filter(transaction_id=str(data["transaction_id"])).first()
    if existing is not None:
        return existing
    subscriber, _ = subscriber_get_or_create(email=data["email_address"])
    parsed = _purchase_time(data)
    currency = _purchase_currency(data)
    amounts = {
        name: _money(data, name) for name in ("subtotal", "tax", "shipping", "discount", "total")
    }
    try:
        # Two calls with one transaction id at once: the second waits for the first's commit
        # on the unique index, then answers with the first's purchase.
        with transaction.atomic():
            purchase = _purchase_insert(data, subscriber, parsed, currency, products, amounts)
    except IntegrityError:
        return Purchase.objects.get(transaction_id=str(data["transaction_id"]))
    _purchase_events(subscriber, purchase, products)
    return purchase


def _purchase_insert(data, subscriber, parsed, currency, products, amounts) -> Purchase:
    return Purchase.objects.create(
        transaction_id=str(data["transaction_id"]),
        subscriber=subscriber,
        email_address=subscriber.email,
        status=str(data.get("status") or "paid"),
        currency=currency,
        transaction_time=parsed or timezone.now(),
        products=products,
        **amounts,
    )

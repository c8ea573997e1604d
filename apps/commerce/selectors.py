from apps.crm.models import Subscriber

from .models import Order, Price, Subscription


def orders_of(*, subscriber: Subscriber) -> list[Order]:
    """A member's orders, newest first: what My orders lists."""
    return list(
        Order.objects.filter(subscriber=subscriber)
        .select_related("offering", "price__product")
        .order_by("-paid_at", "-pk")
    )


def subscriptions_of(*, subscriber: Subscriber) -> list[Subscription]:
    return list(
        Subscription.objects.filter(subscriber=subscriber)
        .select_related("price__product")
        .order_by("-started_at", "-pk")
    )


def price_on_sale(*, slug: str) -> Price | None:
    return (
        Price.objects.select_related("product__offering")
        .filter(slug=slug, active=True, product__active=True)
        .first()
    )


def order_of_session(*, session_id: str) -> Order | None:
    return (
        Order.objects.select_related("offering", "subscriber")
        .filter(checkout_session=session_id)
        .first()
    )

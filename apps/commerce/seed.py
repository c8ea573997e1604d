"""The demo's order form: the guide's course at 197 USD, at /buy/foundation/."""

from decimal import Decimal

from apps.offerings.models import Offering

from .models import Price
from .services import product_create

FOUNDATION = "Foundation Course"
SLUG = "foundation"


def seed_foundation_price() -> list[str]:
    if Price.objects.filter(slug=SLUG).exists():
        return [f"Order form: /buy/{SLUG}/ (already there)"]
    offering = Offering.objects.filter(name=FOUNDATION).first()
    if offering is None:
        return []
    product_create(
        offering=offering,
        name=FOUNDATION,
        slug=SLUG,
        amount=Decimal("197.00"),
        description="Three modules, one a week, lessons you keep.",
    )
    return [f"Order form: /buy/{SLUG}/ (197 USD; set the STRIPE_* keys to take payments)"]

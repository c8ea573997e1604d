"""Test helpers for hook deliveries."""

from apps.crm.delivery import deliveries_claim


def delivery_claim_next(*, now=None) -> tuple[int, int] | None:
    """Claim the oldest due delivery: (id, lease token), or None."""
    claimed = deliveries_claim(now=now, limit=1)
    return claimed[0] if claimed else None

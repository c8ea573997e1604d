"""Email addresses as Tessera stores them (pure: no ORM, so CSV parsing can use it)."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


def email_normalize(email: str) -> str:
    """Trim and lower-case an address, or raise ValidationError saying what is wrong."""
    if not isinstance(email, str) or not email.strip():
        raise ValidationError("An email address is required.", code="email_missing")
    normalized = email.strip().lower()
    try:
        validate_email(normalized)
    except ValidationError:
        raise ValidationError(
            f"{email.strip()!r} is not a valid email address.", code="email_invalid"
        ) from None
    return normalized

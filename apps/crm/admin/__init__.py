"""crm's admin, one module per sub-domain (importing this package registers them all).
Apps above crm use ``LogAdminMixin``, ``ReadOnlyInline`` and ``subscriber_admin_extend``."""

from . import broadcasts, emails, forms, imports, sequences  # noqa: F401  (register their pages)
from .base import LogAdminMixin, ReadOnlyInline
from .subscribers import subscriber_admin_extend

__all__ = ["LogAdminMixin", "ReadOnlyInline", "subscriber_admin_extend"]

"""A request caught by a lost database connection answers 503 with Retry-After, not 500.

A database restart, a failover or a terminated connection breaks the requests in flight;
their transactions roll back, and the client may safely send them again (Kit's endpoints and
the webhook URL are idempotent). The next request reconnects (CONN_HEALTH_CHECKS)."""

import logging

from django.db import InterfaceError, OperationalError, connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning(
            "database unavailable during %s %s: %s",
            request.method,
            request.path,
            type(exception).__name__,
        )
        connection.close()
        return JsonResponse(
            {
                "error": "Service Unavailable",
                "message": "The database connection was lost while handling this request. "
                "Send it again in a few seconds.",
            },
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

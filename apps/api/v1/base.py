"""What /api/v1/ shares: staff tokens, cursor pages, one error shape."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, permissions, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler

PAGE_SIZE = 50


class Page(CursorPagination):
    """Cursor pages: stable under inserts, and no COUNT(*) over big tables."""

    page_size = PAGE_SIZE
    ordering = "-id"


def v1_exception_handler(exc, context):
    """Every error as {"error": code, "message": text, "fields": {...}}."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    fields = {}
    if isinstance(detail, dict) and "detail" in detail:
        message = str(detail["detail"])
    elif isinstance(detail, dict):
        fields = {
            k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()
        }
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
    else:
        message = " ".join(str(m) for m in (detail if isinstance(detail, list) else [detail]))
    code = getattr(exc, "default_code", "error")
    body = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    response.data = body
    return response


class StaffAPI:
    """Mixin for /api/v1/ views: staff tokens (or a staff session), cursor pages, our errors."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAdminUser]
    pagination_class = Page

    def get_exception_handler(self):
        return v1_exception_handler


def conflict(message: str) -> Response:
    return Response({"error": "conflict", "message": message}, status=status.HTTP_409_CONFLICT)

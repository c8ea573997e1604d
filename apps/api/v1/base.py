"""What /api/v1/ shares: staff tokens, Django permissions per action, cursor pages, one error
shape."""

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


# A viewset's standard actions and the Django permission verb each needs. "metadata" is an
# OPTIONS request: it describes the route, so reading is enough.
STANDARD_ACTIONS = {
    "list": "view",
    "retrieve": "view",
    "metadata": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
}


def model_permissions(model) -> dict[str, list[str]]:
    """The standard actions on ``model``, each with the Django permission it needs."""
    meta = model._meta
    return {
        action: [f"{meta.app_label}.{verb}_{meta.model_name}"]
        for action, verb in STANDARD_ACTIONS.items()
    }


class ActionPermissions(permissions.BasePermission):
    """A staff user who holds every Django permission the view names for the action (its
    ``action_permissions``): "view" to read, add / change / delete to write, and finer ones
    for capabilities (minting a Webhook Generator URL, pausing an automation). An action the
    view names no permissions for is refused, so a new action is closed until it says what
    it needs. A method the route does not have falls through to its 405."""

    message = "You do not have the permission this needs; ask an owner to grant it."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        action = getattr(view, "action", None)  # None: the API root, or a method not routed
        if action is None:
            return True
        required = view.action_permissions.get(action)
        return required is not None and user.has_perms(required)


class StaffAPI:
    """Mixin for /api/v1/ views: staff tokens (or a staff session), each action behind its
    Django permissions, cursor pages, our errors."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [ActionPermissions]
    pagination_class = Page
    # action name -> the permissions it needs (``model_permissions`` for the standard ones).
    action_permissions: dict[str, list[str]] = {}

    def get_exception_handler(self):
        return v1_exception_handler


def user_may(request, permission: str) -> bool:
    user = getattr(request, "user", None)
    return bool(user and user.has_perm(permission))


def conflict(message: str) -> Response:
    return Response({"error": "conflict", "message": message}, status=status.HTTP_409_CONFLICT)

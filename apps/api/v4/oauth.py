"""OAuth 2 for Kit v4's third-party apps, served by django-oauth-toolkit under /oauth/:
authorization code with PKCE (required), refresh tokens, revocation.

Only staff who may make API keys (Owner) register apps (/oauth/applications/) and grant
consent (/oauth/authorize/): a token reaches the whole account's CRM, as a key does. The
scopes are ``read`` (GET calls) and ``write`` (everything else).
"""

from django.contrib.auth.mixins import UserPassesTestMixin
from django.urls import path
from oauth2_provider import views as oauth_views
from oauth2_provider.oauth2_backends import get_oauthlib_core

READ_SCOPE, WRITE_SCOPE = "read", "write"
API_KEY_PERMISSION = "api.add_apikey"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class StaffOnly(UserPassesTestMixin):
    """Signed-in staff only; anyone else signs in first (or is refused, if signed in)."""

    raise_exception = False

    def test_func(self):
        # A token reaches what an API key does: the same right as making a key (Owner).
        user = self.request.user
        return user.is_active and user.is_staff and user.has_perm(API_KEY_PERMISSION)


def _staff(view):
    return type(view.__name__, (StaffOnly, view), {})


def oauth_caller(request, token: str):
    """The live access token sent as ``Authorization: Bearer``, or None (expired, revoked,
    unknown). A call that changes something needs the ``write`` scope."""
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        return None
    access = oauth_request.access_token
    if request.method not in SAFE_METHODS and not access.allow_scopes([WRITE_SCOPE]):
        from .base import V4Error

        raise V4Error(403, "This token's scopes do not allow changes: ask for the write scope.")
    return access


urlpatterns = [
    path("authorize/", _staff(oauth_views.AuthorizationView).as_view(), name="authorize"),
    path("token/", oauth_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("applications/", _staff(oauth_views.ApplicationList).as_view(), name="list"),
    path(
        "applications/register/",
        _staff(oauth_views.ApplicationRegistration).as_view(),
        name="register",
    ),
    path("applications/<slug:pk>/", _staff(oauth_views.ApplicationDetail).as_view(), name="detail"),
    path(
        "applications/<slug:pk>/delete/",
        _staff(oauth_views.ApplicationDelete).as_view(),
        name="delete",
    ),
    path(
        "applications/<slug:pk>/update/",
        _staff(oauth_views.ApplicationUpdate).as_view(),
        name="update",
    ),
]

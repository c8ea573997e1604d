"""The sending providers' tracking webhooks at anymail's standard URLs
(``/anymail/<esp>/tracking/``), behind two guards anymail leaves to the site:

- Without ``ANYMAIL_WEBHOOK_SECRET`` the URLs answer 403 and change nothing (anymail alone
  would only warn and accept anyone's post).
- A payload anymail cannot read (not JSON, a type it does not know, a missing field) is a
  400 that says so, not a 500 (a provider would retry a 500 for days).

A wrong secret is anymail's own 400 (its basic-auth check runs before any parsing).
"""

import logging

from anymail.exceptions import AnymailError
from anymail.urls import urlpatterns as anymail_urlpatterns
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)


def _guarded(view):
    @csrf_exempt
    def guarded(request, *args, **kwargs):
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            return JsonResponse(
                {
                    "error": "Tracking webhooks are off: set ANYMAIL_WEBHOOK_SECRET "
                    "(user:pass) and put it in the webhook URL at the provider."
                },
                status=403,
            )
        try:
            return view(request, *args, **kwargs)
        except ImproperlyConfigured as exc:  # e.g. Mailgun's signing key not set
            logger.warning("tracking webhook %s is not configured: %s", request.path, exc)
            return JsonResponse({"error": f"Not configured on this site: {exc}"}, status=400)
        except (AnymailError, KeyError, TypeError, ValueError, AttributeError) as exc:
            logger.info("tracking webhook %s refused: %s", request.path, exc)
            return JsonResponse(
                {"error": f"This payload cannot be read as a tracking event: {exc}"},
                status=400,
            )

    return guarded


urlpatterns = [
    URLPattern(p.pattern, _guarded(p.callback), name=p.name)
    for p in anymail_urlpatterns
    if p.name and p.name.endswith("tracking_webhook")
]

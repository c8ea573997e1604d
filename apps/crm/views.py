"""The subscriber's own pages (no login: signed links) and hosted forms."""

import logging

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt

from apps.core.client_address import client_address
from apps.core.throttle import window_allow

from .models import Form, SequenceSubscription, SubscriberState, SubscriptionState
from .preferences import (
    subscriber_from_token,
    subscriber_preferences_set,
    subscriber_unsubscribe_everything,
)
from .signups import form_confirm, form_subscribe

logger = logging.getLogger(__name__)


# RFC 8058: the mailbox provider POSTs "List-Unsubscribe=One-Click" to the header's URL, with
# no cookie and no CSRF token. The signed token in the URL is the capability (it names one
# subscriber and cannot be forged), so the page takes no CSRF check; a GET (mail scanners
# fetch every link) only shows the confirmation page and never unsubscribes.
ONE_CLICK_BODY = "One-Click"


@csrf_exempt
def unsubscribe_view(request, token):
    subscriber = subscriber_from_token(token, purpose="unsubscribe")
    if subscriber is None:
        return render(request, "crm/link_invalid.html", status=400)
    if request.method == "POST" and request.POST.get("List-Unsubscribe") == ONE_CLICK_BODY:
        subscriber_unsubscribe_everything(
            subscriber=subscriber, keep_purchase_emails=subscriber.keep_purchase_emails
        )
        return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8", status=200)
    if request.method == "POST":
        subscriber_unsubscribe_everything(
            subscriber=subscriber,
            keep_purchase_emails=bool(request.POST.get("keep_purchase")),
        )
        return render(request, "crm/unsubscribed.html", {"subscriber": subscriber})
    return render(
        request,
        "crm/unsubscribe.html",
        {"subscriber": subscriber, "already": subscriber.state == SubscriberState.CANCELLED},
    )


def preferences_view(request, token):
    subscriber = subscriber_from_token(token, purpose="preferences")
    if subscriber is None:
        return render(request, "crm/link_invalid.html", status=400)
    subscriptions = SequenceSubscription.objects.filter(
        subscriber=subscriber, state=SubscriptionState.ACTIVE
    ).select_related("sequence")
    saved = False
    if request.method == "POST":
        subscriber_preferences_set(
            subscriber=subscriber,
            keep_sequence_ids={int(v) for v in request.POST.getlist("sequence") if v.isdigit()},
            broadcasts=bool(request.POST.get("broadcasts")),
            keep_purchase_emails=bool(request.POST.get("keep_purchase")),
        )
        subscriber.refresh_from_db()
        saved = True
    return render(
        request,
        "crm/preferences.html",
        {"subscriber": subscriber, "subscriptions": subscriptions, "saved": saved},
    )


# A hosted form needs no login, so without bounds it relays mail: anyone could have the site
# send confirmation emails to any address. Per address of the sender, and per mailbox.
FORM_POSTS_PER_ADDRESS_PER_HOUR = 20
FORM_POSTS_PER_EMAIL_PER_HOUR = 3
# A field people do not see (hidden by CSS, skipped by screen readers and the tab order) that
# form-filling bots fill in.
HONEYPOT_FIELD = "website"


def form_view(request, form_id):
    form = get_object_or_404(Form, pk=form_id)
    context = {"form": form, "honeypot": HONEYPOT_FIELD}
    if request.method == "POST":
        email = request.POST.get("email", "").strip().lower()
        if request.POST.get(HONEYPOT_FIELD):
            # A bot: answered as if it worked, so it learns nothing, and nothing is sent.
            logger.info("form %s: honeypot filled; nothing done", form.pk)
            context["done"], context["pending"] = True, form.double_opt_in
            return render(request, "crm/form.html", context)
        if not window_allow(
            f"form:addr:{client_address(request)}",
            limit=FORM_POSTS_PER_ADDRESS_PER_HOUR,
            window=3600,
        ):
            context["error"] = (
                "Too many sign-ups from your network in the last hour; please try again later."
            )
            return render(request, "crm/form.html", context, status=429)
        if not window_allow(
            f"form:email:{email}", limit=FORM_POSTS_PER_EMAIL_PER_HOUR, window=3600
        ):
            # The same answer as a success: whether an address was used says nothing, and the
            # mailbox gets no more confirmation emails.
            context["done"], context["pending"] = True, form.double_opt_in
            return render(request, "crm/form.html", context)
        try:
            subscription = form_subscribe(
                form=form,
                email=request.POST.get("email", ""),
                first_name=request.POST.get("first_name", ""),
                referrer=request.META.get("HTTP_REFERER", ""),
            )
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
        else:
            context["done"] = True
            context["pending"] = subscription.state != "active"
    return render(request, "crm/form.html", context)


def form_confirm_view(request, token):
    subscription = form_confirm(token=token)
    if subscription is None:
        return render(request, "crm/link_invalid.html", status=400)
    return render(request, "crm/confirmed.html", {"form": subscription.form})

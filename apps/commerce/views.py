"""Order forms, the thank-you page, Stripe's webhook, and My orders. Thin: Stripe calls in
``checkout``, writes in ``services`` / ``stripe_events``."""

import stripe
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.core.client_address import client_address
from apps.members.models import Member
from apps.members.services import webhook_refusals_exceeded
from apps.members.views import member_required

from . import checkout, selectors, stripe_events
from .forms import OrderForm

# Stripe's events are small, but an invoice with many lines is bigger than a CRM's hook.
STRIPE_WEBHOOK_MAX_BYTES = 512 * 1024


def _to_stripe(response):
    """Let this page's forms be redirected to Stripe's hosted pages: a browser applies the
    page's CSP form-action to the redirect after a submit, and ours is 'self' otherwise."""
    response._csp_update = {"form-action": settings.STRIPE_REDIRECT_ORIGINS}
    return response


def _member_of(request) -> Member | None:
    if not request.user.is_authenticated:
        return None
    return Member.objects.select_related("subscriber").filter(user=request.user).first()


def order_form_view(request, slug):
    """One price's order form: the buyer's name and email (prefilled for a logged-in member)
    and an optional coupon, then Stripe's hosted Checkout page."""
    price = selectors.price_on_sale(slug=slug)
    if price is None:
        raise Http404("No price is on sale at this address.")
    member = _member_of(request)
    initial = {}
    if member is not None:
        initial = {"email": member.subscriber.email, "name": member.subscriber.first_name}
    form = OrderForm(request.POST or None, initial=initial)
    configured = stripe_events.stripe_configured()
    if request.method == "POST" and configured and form.is_valid():
        try:
            url = checkout.checkout_session_create(
                price=price,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                coupon=form.cleaned_data["coupon"].strip(),
                subscriber=member.subscriber if member else None,
                site_url=settings.SITE_URL,
            )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            return HttpResponseRedirect(url, status=303)
    return _to_stripe(
        render(
            request,
            "commerce/order_form.html",
            {"price": price, "form": form, "configured": configured, "member": member},
            status=200 if configured else 503,
        )
    )


def thanks_view(request):
    """Where Checkout sends the buyer back. The webhook may not have arrived yet: the page
    says what happens next either way, and refreshes itself until the order is recorded."""
    session_id = request.GET.get("session_id", "")[:255]
    order = selectors.order_of_session(session_id=session_id) if session_id else None
    return render(
        request,
        "commerce/thanks.html",
        {"order": order, "session_id": session_id, "member": _member_of(request)},
    )


@csrf_exempt
@require_POST
def stripe_webhook_view(request):
    """Stripe's one webhook URL. 403 for a missing, wrong or stale signature (logged, nothing
    else written); 200 once the event is stored, processed by a worker after commit."""
    address = client_address(request)
    if webhook_refusals_exceeded(remote_addr=address):
        # An address that keeps knocking with bad signatures is not logged again.
        return JsonResponse({"error": "Too many refused calls; retry in a minute."}, status=429)

    def refuse(status: int, message: str):
        stripe_events.stripe_event_refuse(reason=message, remote_addr=address, http_status=status)
        return JsonResponse({"error": message}, status=status)

    if not settings.STRIPE_WEBHOOK_SECRET:
        return refuse(403, "Stripe webhooks are off: set STRIPE_WEBHOOK_SECRET on the server.")
    if int(request.META.get("CONTENT_LENGTH") or 0) > STRIPE_WEBHOOK_MAX_BYTES:
        return refuse(413, f"The body is larger than {STRIPE_WEBHOOK_MAX_BYTES} bytes.")
    try:
        event, fresh = stripe_events.stripe_event_receive(
            body=request.body,
            signature=request.headers.get("Stripe-Signature"),
            remote_addr=address,
        )
    except stripe.SignatureVerificationError as exc:
        return refuse(403, f"Stripe-Signature did not verify: {exc.user_message or exc}")
    except ValueError as exc:
        return refuse(400, f"The body is not a Stripe event: {exc}")
    return JsonResponse({"received": event.event_id, "duplicate": not fresh}, status=200)


@member_required
def my_orders_view(request):
    subscriber = request.member.subscriber
    return _to_stripe(
        render(
            request,
            "commerce/my_orders.html",
            {
                "orders": selectors.orders_of(subscriber=subscriber),
                "subscriptions": selectors.subscriptions_of(subscriber=subscriber),
                "can_manage": stripe_events.stripe_configured()
                and bool(checkout.customer_of(subscriber)),
            },
        )
    )


@member_required
@require_POST
def billing_portal_view(request):
    try:
        url = checkout.billing_portal_url(
            subscriber=request.member.subscriber,
            return_url=settings.SITE_URL + reverse("commerce:my_orders"),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("commerce:my_orders")
    return HttpResponseRedirect(url, status=303)

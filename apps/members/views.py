"""Member pages and the inbound webhook. Thin: reads through selectors, writes through
services."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import (
    get_user_model,
    login,
    logout,
    update_session_auth_hash,
)
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import PasswordResetView
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.core.client_address import client_address
from apps.core.jsonlimits import JSONLimitError, has_nul, json_loads_bounded

from . import logins, services
from .forms import AccountForm, LoginForm, LoginLinkForm
from .inbound import Inbound, throttled_log, webhook_inbound_receive
from .models import Member, WebhookEndpoint
from .player_views import staff_without_profile_reason
from .tokens import login_link_tokens


def _no_access(request, reason: str, offering=None, status: int = 403):
    return render(
        request, "members/no_access.html", {"offering": offering, "reason": reason}, status=status
    )


def member_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(f"{reverse('members:login')}?next={request.get_full_path()}")
        member = Member.objects.select_related("subscriber").filter(user=request.user).first()
        if member is None:
            return _no_access(request, staff_without_profile_reason(request))
        request.member = member
        return view(request, *args, **kwargs)

    return wrapper


def login_view(request):
    password_form, link_form = LoginForm(), LoginLinkForm()
    next_url = request.GET.get("next") or request.POST.get("next") or ""
    if request.method == "POST" and request.POST.get("action") == "link":
        link_form = LoginLinkForm(request.POST)
        if link_form.is_valid():
            email = link_form.cleaned_data["email"].strip().lower()
            if services.email_request_record(
                purpose="login_link", email=email, address=client_address(request)
            ):
                services.member_login_link_email(email=email)
            return render(request, "members/login_link_sent.html", {"email": email})
    elif request.method == "POST":
        password_form = LoginForm(request.POST)
        if password_form.is_valid():
            email = password_form.cleaned_data["email"].strip().lower()
            try:
                user = logins.login_authenticate(
                    request=request,
                    username=email,
                    password=password_form.cleaned_data["password"],
                    address=client_address(request),
                )
            except logins.LoginLocked as locked:
                password_form.add_error(
                    None,
                    _(
                        "Too many failed attempts: logging in is locked for %(minutes)s more "
                        "minute(s). Try again then, or use a login link sent by email."
                    )
                    % {"minutes": locked.minutes},
                )
            else:
                if user is None:
                    password_form.add_error(None, _("That email and password do not match."))
                else:
                    login(request, user)
                    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
                        next_url = ""
                    return HttpResponseRedirect(next_url or reverse("members:dashboard"))
    return render(
        request,
        "members/login.html",
        {"form": password_form, "link_form": link_form, "next": next_url},
    )


def login_link_view(request, uidb64, token):
    user_model = get_user_model()
    try:
        user = user_model.objects.get(pk=urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, OverflowError, user_model.DoesNotExist):
        user = None
    if user is None or user.is_staff or not login_link_tokens.check_token(user, token):
        return render(request, "members/link_invalid.html", status=400)
    if request.method == "POST":
        # A click, not a prefetch by a mail scanner, spends the one-time link.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("members:dashboard")
    return render(request, "members/login_link_confirm.html", {"link_email": user.email})


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, _("You are logged out."))
    return redirect("members:login")


@member_required
def account_view(request):
    member = request.member
    account_form = AccountForm(
        initial={"first_name": member.subscriber.first_name, "email": member.subscriber.email}
    )
    password_form = PasswordChangeForm(request.user)
    if request.method == "POST" and request.POST.get("action") == "password":
        password_form = PasswordChangeForm(request.user, request.POST)
        if password_form.is_valid():
            user = services.member_password_change(
                user=request.user, password=password_form.cleaned_data["new_password1"]
            )
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password is changed."))
            return redirect("members:account")
    elif request.method == "POST":
        account_form = AccountForm(request.POST)
        if account_form.is_valid():
            try:
                services.member_account_update(
                    member=member,
                    first_name=account_form.cleaned_data["first_name"],
                    email=member.subscriber.email,
                )
                pending = services.member_email_change_request(
                    member=member, email=account_form.cleaned_data["email"]
                )
            except ValidationError as exc:
                account_form.add_error("email", " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    _("Your details are saved.")
                    + (
                        " "
                        + _("To use %(email)s, open the link we sent there.") % {"email": pending}
                        if pending
                        else ""
                    ),
                )
                return redirect("members:account")
    return render(
        request,
        "members/account.html",
        {"account_form": account_form, "password_form": password_form, "member": member},
    )


def email_confirm_view(request, token):
    """The link sent to a new address: the change happens only once the address confirms."""
    try:
        member = services.member_email_change_confirm(token=token)
    except ValidationError as exc:
        return _no_access(request, " ".join(exc.messages), status=400)
    messages.success(
        request, _("Your email is now %(email)s.") % {"email": member.subscriber.email}
    )
    return redirect("members:account" if request.user.is_authenticated else "members:login")


def no_access_view(request):
    return _no_access(request, _("You do not have access to this page."))


# Inbound webhooks ---------------------------------------------------------------------------


def _payload(request) -> dict:
    if request.content_type == "application/json":
        try:
            data = json_loads_bounded(request.body or b"{}")
        except JSONLimitError as exc:
            raise ValueError(f"The body was refused: {exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"The body is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise ValueError("The JSON body must be an object.")
        return data
    data = {key: values if len(values) > 1 else values[0] for key, values in request.POST.lists()}
    if has_nul(data):
        raise ValueError("The body was refused: text must not contain NUL characters.")
    return data


@csrf_exempt
@require_POST
def webhook_inbound_view(request, public_id, operation, offering_id, signature):
    """Answers at once; the operation runs in a worker. 413 too big, 404 unknown, 403 bad
    signature, 410 revoked, 429 too many, 400 no usable contact, 202 accepted."""
    address, path = client_address(request), request.path
    if "\x00" in path:
        return JsonResponse({"error": "No webhook endpoint has this address."}, status=404)
    inbound = Inbound(
        public_id=public_id,
        operation=operation,
        offering_id=offering_id,
        signature=signature,
        payload={},
        parse_error=None,
        remote_addr=address,
        path=path,
        delivery_id=(
            request.headers.get("webhook-id") or request.headers.get("X-Webhook-Id") or ""
        ).replace("\x00", ""),
        body=request.body,
        headers=request.headers,
    )
    if services.webhook_refusals_exceeded(remote_addr=address):
        throttled_log(source=f"addr:{address}", endpoint=None, inbound=inbound)
        return JsonResponse(
            {"error": "Too many refused calls from this address; retry in a minute."}, status=429
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.INBOUND_WEBHOOK_MAX_BYTES:
        endpoint = WebhookEndpoint.objects.filter(public_id=public_id).first()
        services.webhook_call_refuse(
            endpoint=endpoint,
            payload={},
            remote_addr=address,
            path=path,
            http_status=413,
            error=f"body of {length} bytes",
        )
        return JsonResponse(
            {"error": f"The body is larger than {settings.INBOUND_WEBHOOK_MAX_BYTES} bytes."},
            status=413,
        )
    try:
        inbound.payload = _payload(request)
    except ValueError as exc:
        inbound.parse_error = str(exc)
    status, answer = webhook_inbound_receive(inbound, rate_limited=True)
    return JsonResponse(answer, status=status)


class ThrottledPasswordResetView(PasswordResetView):
    """Django's reset view, with the same per-mailbox and per-address cap as login links."""

    def form_valid(self, form):
        if not services.email_request_record(
            purpose="password_reset",
            email=form.cleaned_data["email"],
            address=client_address(self.request),
        ):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)

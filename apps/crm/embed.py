"""Forms embedded on the creator's own website: the snippet, its script and the endpoint it
posts to.

The snippet is a plain HTML form (it works with scripts off: the browser posts it and lands
on our thank-you page) plus ``embed.js``, which submits it in place and shows the answer.

Why no session CSRF token: the post comes from another site, which cannot read our cookie or
token, and the endpoint uses no cookie or session, so there is nothing for a forged request to
borrow (CSRF protects a signed-in browser's authority; a sign-up form has none). Instead the
form carries a *signed form token* (the form's id signed with the site's key), so only a
snippet this admin issued posts to it, and a token for one form cannot post to another.

CORS: any origin (``Access-Control-Allow-Origin: *``), without credentials. A creator pastes
the snippet on pages we do not list (landing-page builders, preview domains), and a list of
allowed origins would protect nothing: the Origin header is the browser's courtesy, and a bot
posts with any Origin it likes or none. The guards that work are the ones below: the signed
token, a honeypot field, a per-address limit (``EMBED_POSTS_PER_ADDRESS_PER_MINUTE``) and the
per-mailbox limit of the hosted form; double opt-in as the form says.
"""

import json
import logging

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from apps.core.client_address import client_address
from apps.core.throttle import window_allow

from .events import event_record
from .models import Form
from .signups import form_subscribe
from .views import HONEYPOT_FIELD

logger = logging.getLogger(__name__)

TOKEN_SALT = "crm.form-embed"
# The limit for embedded forms: a launch page gets bursts, a bot gets stopped.
EMBED_POSTS_PER_ADDRESS_PER_MINUTE = 20
EMBED_WINDOW_SECONDS = 60
EMBED_POSTS_PER_EMAIL_PER_HOUR = 3
# The event a refused bot post leaves (no subscriber: the address typed is not trusted).
FORM_SPAM_REFUSED = "form_spam_refused"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Max-Age": "86400",
}


def form_token(form: Form) -> str:
    """The signed token an embed snippet carries (no expiry: snippets live on static pages;
    rotating SECRET_KEY retires them all)."""
    return signing.dumps(form.pk, salt=TOKEN_SALT)


def form_token_valid(token: str, form: Form) -> bool:
    try:
        return signing.loads(token, salt=TOKEN_SALT) == form.pk
    except signing.BadSignature:
        return False


def embed_snippet(form: Form, base_url: str) -> str:
    """The HTML a creator pastes on their site: a plain form, then the script."""
    action = base_url + reverse("crm:form_embed_subscribe", args=[form.pk])
    script = base_url + reverse("crm:form_embed_js", args=[form.pk])
    title = form.title or form.name
    return (
        f'<form class="tessera-form" data-tessera-form="{form.pk}" method="post" '
        f'action="{action}">\n'
        f"  <strong>{_esc(title)}</strong>\n"
        + (f"  <p>{_esc(form.description)}</p>\n" if form.description else "")
        + '  <input type="email" name="email" placeholder="Email address" required '
        'autocomplete="email">\n'
        '  <input type="text" name="first_name" placeholder="First name" '
        'autocomplete="given-name">\n'
        f'  <input type="hidden" name="token" value="{form_token(form)}">\n'
        f'  <input type="text" name="{HONEYPOT_FIELD}" tabindex="-1" autocomplete="off" '
        'aria-hidden="true" style="position:absolute;left:-9999px" value="">\n'
        f'  <button type="submit">{_esc(form.sign_up_button_text)}</button>\n'
        "</form>\n"
        f'<script src="{script}" async></script>\n'
    )


def _esc(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def _answer(request, form: Form, *, status: int, message: str, ok: bool):
    """JSON for the script, the hosted form's page for a plain post; CORS on both."""
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"ok": ok, "message": message}, status=status)
    else:
        context = {"form": form, "honeypot": HONEYPOT_FIELD}
        if ok:
            context["done"], context["pending"] = True, form.double_opt_in
        else:
            context["error"] = message
        response = render(request, "crm/form.html", context, status=status)
    for name, value in CORS_HEADERS.items():
        response[name] = value
    return response


def _success_message(form: Form) -> str:
    if form.double_opt_in:
        return "Almost done: check your inbox and confirm your subscription."
    return form.success_message


@csrf_exempt
def embed_subscribe_view(request, form_id):
    """The endpoint an embedded form posts to, from any site (see the module's docstring)."""
    form = get_object_or_404(Form, pk=form_id)
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        for name, value in CORS_HEADERS.items():
            response[name] = value
        return response
    if request.method != "POST":
        return _answer(request, form, status=405, ok=False, message="Post the form to subscribe.")
    address = client_address(request)
    if not window_allow(
        f"form-embed:addr:{address}",
        limit=EMBED_POSTS_PER_ADDRESS_PER_MINUTE,
        window=EMBED_WINDOW_SECONDS,
    ):
        response = _answer(
            request,
            form,
            status=429,
            ok=False,
            message="Too many sign-ups from your network just now; try again in a minute.",
        )
        response["Retry-After"] = str(EMBED_WINDOW_SECONDS)
        return response
    if not form_token_valid(request.POST.get("token", ""), form):
        return _answer(
            request,
            form,
            status=403,
            ok=False,
            message="This sign-up form is out of date; ask the site owner to paste it again.",
        )
    if request.POST.get(HONEYPOT_FIELD):
        # A bot: answered as if it worked (it learns nothing), nothing sent, but recorded so
        # the creator sees the form is being probed.
        event_record(
            subscriber_id=None,
            type=FORM_SPAM_REFUSED,
            payload={"form_id": form.pk, "address": address, "field": HONEYPOT_FIELD},
        )
        logger.info("embedded form %s: honeypot filled from %s; refused", form.pk, address)
        return _answer(request, form, status=200, ok=True, message=_success_message(form))
    email = request.POST.get("email", "").strip().lower()
    if not window_allow(f"form:email:{email}", limit=EMBED_POSTS_PER_EMAIL_PER_HOUR, window=3600):
        # As a success: whether an address was used says nothing; the mailbox gets no more.
        return _answer(request, form, status=200, ok=True, message=_success_message(form))
    try:
        form_subscribe(
            form=form,
            email=email,
            first_name=request.POST.get("first_name", ""),
            referrer=request.headers.get("Origin") or request.META.get("HTTP_REFERER", ""),
        )
    except ValidationError as exc:
        return _answer(request, form, status=400, ok=False, message=" ".join(exc.messages))
    return _answer(request, form, status=200, ok=True, message=_success_message(form))


def form_embed_js(request, form_id):
    """Kit's ``embed_js`` for a form. Beside the snippet's plain form it submits that form
    in place (fetch, CORS) and shows the answer; included alone, it draws the form first."""
    form = get_object_or_404(Form, pk=form_id)
    base = request.build_absolute_uri("/").rstrip("/")
    data = json.dumps(
        {
            "id": form.pk,
            "html": embed_snippet(form, base).split("<script", 1)[0],
            "title": form.title or form.name,
            "css": EMBED_CSS,
        }
    ).replace("<", "\\u003c")
    response = HttpResponse(
        "(function(){var f=" + data + ";" + _EMBED_SCRIPT,
        content_type="application/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


# A light look that fits most sites, put first in the page's head so the page's own
# ``.tessera-form`` rules win.
EMBED_CSS = (
    ".tessera-form{display:flex;flex-wrap:wrap;gap:8px;align-items:center;max-width:560px;"
    "padding:16px;border:1px solid #d0d7de;border-radius:8px;font-family:inherit}"
    ".tessera-form strong{flex-basis:100%;font-size:1.1em}"
    ".tessera-form p{flex-basis:100%;margin:0}"
    ".tessera-form input{flex:1 1 160px;padding:8px;border:1px solid #b6bec6;border-radius:4px}"
    ".tessera-form button{padding:8px 16px;border:0;border-radius:4px;background:#417690;"
    "color:#fff;cursor:pointer}"
    ".tessera-form-message[data-status='429'],.tessera-form-message[data-status='400']"
    "{color:#ba2121}"
)

_EMBED_SCRIPT = """
var s=document.currentScript;
var el=document.querySelector('form[data-tessera-form="'+f.id+'"]');
if(!el&&s){var d=document.createElement('div');d.innerHTML=f.html;el=d.firstElementChild;
s.parentNode.insertBefore(el,s);}
if(!el||el.dataset.tesseraReady)return;el.dataset.tesseraReady='1';
if(!document.getElementById('tessera-form-style')){var st=document.createElement('style');
st.id='tessera-form-style';st.textContent=f.css;document.head.insertBefore(st,document.head.firstChild);}
var note=document.createElement('p');note.className='tessera-form-message';
note.setAttribute('role','status');el.appendChild(note);
el.addEventListener('submit',function(e){e.preventDefault();
var b=el.querySelector('button[type=submit]');if(b)b.disabled=true;
fetch(el.action,{method:'POST',body:new URLSearchParams(new FormData(el)),
headers:{'Accept':'application/json'},credentials:'omit'})
.then(function(r){return r.json().then(function(j){return{status:r.status,body:j};});})
.then(function(r){note.textContent=r.body.message;
note.dataset.status=String(r.status);if(r.body.ok){el.reset();}})
.catch(function(){note.textContent='Could not reach the sign-up service; try again.';})
.then(function(){if(b)b.disabled=false;});});
})();
"""

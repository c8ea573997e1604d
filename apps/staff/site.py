"""The admin site: "Tessera", the creator's pages first, the plumbing last, and a login that
locks after too many wrong passwords like the members' (one mechanism: ``members.logins``).

Who sees what is Django's permissions, nothing else: a section lists only the models the
user may view, so a Creator (no permission on the plumbing models) never sees them."""

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.urls import reverse

from apps.core.client_address import client_address
from apps.members.logins import LoginLocked, login_authenticate

# (app label, model name) in the order a course creator works: these open the index.
CREATOR_PAGES = [
    ("offerings", "offering"),
    ("automations", "automation"),
    ("crm", "subscriber"),
    ("tags", "tag"),
    ("crm", "sequence"),
    ("crm", "broadcast"),
    ("crm", "form"),
    ("crm", "emailmessage"),
    ("members", "webhookendpoint"),
]
# What a page calls a model where its admin name says less.
PAGE_NAMES = {("members", "webhookendpoint"): "Webhook Generator"}
# What keeps the site running rather than the creator's work: listed last, under one
# heading, for those whose role may open it (Owner).
PLUMBING_APPS = {"django_celery_beat", "authtoken", "api"}
PLUMBING_MODELS = {
    ("crm", "event"),
    ("crm", "webhookdelivery"),
    ("crm", "hook"),
    ("members", "webhookcall"),
}
# The remaining sections, in this order; any other app follows alphabetically.
APP_ORDER = ["offerings", "automations", "crm", "tags", "members", "auth"]


class LockingAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, through the members' lock: the attempt is counted before the
    password is checked, so neither one at a time nor many at once get more tries."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = login_authenticate(
                    request=self.request,
                    username=username,
                    password=password,
                    address=client_address(self.request),
                )
            except LoginLocked as locked:
                raise forms.ValidationError(locked.message, code="locked") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


def _by_name(page: dict) -> str:
    return str(page["name"])


def _section(label: str, name: str, models: list[dict]) -> dict:
    return {
        "name": name,
        "app_label": label,
        # An anchor, not a page: a section of our own has no app index to open.
        "app_url": f"{reverse('admin:index')}#{label}",
        "has_module_perms": True,
        "models": models,
    }


class TesseraAdminSite(admin.AdminSite):
    site_header = "Tessera"
    site_title = "Tessera"
    index_title = "Your courses and your list"
    login_form = LockingAuthenticationForm

    def get_app_list(self, request, app_label=None):
        if app_label is not None:  # one app's own page: Django's list
            return super().get_app_list(request, app_label)
        apps = self._build_app_dict(request)  # only what this user may view
        pages = {
            (app["app_label"], model["object_name"].lower()): model
            for app in apps.values()
            for model in app["models"]
        }
        creator = []
        for key in CREATOR_PAGES:
            if key in pages:
                page = pages.pop(key)
                page["name"] = PAGE_NAMES.get(key, page["name"])
                creator.append(page)
        plumbing_keys = [k for k in pages if k[0] in PLUMBING_APPS or k in PLUMBING_MODELS]
        plumbing = sorted((pages.pop(k) for k in plumbing_keys), key=_by_name)
        sections = [_section("work", "Your work", creator)] if creator else []
        order = {label: i for i, label in enumerate(APP_ORDER)}
        for app in sorted(
            apps.values(), key=lambda a: (order.get(a["app_label"], len(order)), a["name"])
        ):
            left = [
                p for p in app["models"] if (app["app_label"], p["object_name"].lower()) in pages
            ]
            if left:
                sections.append({**app, "models": sorted(left, key=_by_name)})
        if plumbing:
            sections.append(_section("plumbing", "Plumbing", plumbing))
        return sections

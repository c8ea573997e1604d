from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StaffConfig(AppConfig):
    """Staff: the roles (Owner, Creator, Support) and the admin site they log in to."""

    default = True  # this module also holds the admin's config
    name = "apps.staff"
    label = "staff"


class TesseraAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with Tessera's site: branded, the creator's pages first, and the login
    locked after too many wrong passwords like the members' (``apps/members/logins.py``)."""

    default = False  # named in INSTALLED_APPS; "apps.staff" alone means StaffConfig
    default_site = "apps.staff.site.TesseraAdminSite"

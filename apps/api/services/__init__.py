"""The API's verbs: each owns its transaction, and each handler in v1/v3/v4 calls one.

``credentials``: the account's Kit credentials and profile. ``kit``: the Kit APIs' writes
that span several of the CRM's and the tags' services. ``automations``: v1's whole-document
replace. Broadcasts are written in ``apps.api.broadcasts``; a handler whose write is one
service of another app (``form_subscribe``, ``hook_create``...) calls that directly.
"""

from .credentials import (
    API_KEY_PREFIX,
    CLI_KEY_NAME,
    LAST_USED_RESOLUTION_SECONDS,
    MAX_ACCOUNT_COLORS,
    account_profile_get,
    account_profile_update,
    api_credentials_get,
    api_credentials_regenerate,
    api_key_authenticate,
    api_key_create,
    api_key_for_cli,
    api_key_revoke,
)

__all__ = [
    "API_KEY_PREFIX",
    "CLI_KEY_NAME",
    "LAST_USED_RESOLUTION_SECONDS",
    "MAX_ACCOUNT_COLORS",
    "account_profile_get",
    "account_profile_update",
    "api_credentials_get",
    "api_credentials_regenerate",
    "api_key_authenticate",
    "api_key_create",
    "api_key_for_cli",
    "api_key_revoke",
]

"""Members' verbs, by sub-domain: accounts (logins, links, details), throttling (how often a
login link or reset may be asked for), endpoints (the Webhook Generator's URLs), operations
(what a URL does for one contact) and calls (logging and running the calls a URL receives).
The public verbs are re-exported here."""

from .accounts import (
    LoginResult,
    member_account_update,
    member_email_change_confirm,
    member_email_change_request,
    member_liquid_variables,
    member_login_ensure,
    member_login_link_email,
    member_login_link_url,
    member_password_change,
    member_set_password_url,
)
from .calls import (
    REFUSALS_PER_ADDRESS_PER_MINUTE,
    ContactError,
    contact_from_payload,
    path_redact,
    payload_redact,
    webhook_call_accept,
    webhook_call_process,
    webhook_call_rate_record,
    webhook_call_refuse,
    webhook_call_replay,
    webhook_calls_process,
    webhook_calls_resume_stuck,
    webhook_refusals_exceeded,
)
from .endpoints import endpoint_mint, endpoint_mint_by_tag_name, endpoint_revoke, endpoint_rotate
from .operations import operation_run
from .throttling import email_request_record

__all__ = [
    "REFUSALS_PER_ADDRESS_PER_MINUTE",
    "ContactError",
    "LoginResult",
    "contact_from_payload",
    "email_request_record",
    "endpoint_mint",
    "endpoint_mint_by_tag_name",
    "endpoint_revoke",
    "endpoint_rotate",
    "member_account_update",
    "member_email_change_confirm",
    "member_email_change_request",
    "member_liquid_variables",
    "member_login_ensure",
    "member_login_link_email",
    "member_login_link_url",
    "member_password_change",
    "member_set_password_url",
    "operation_run",
    "path_redact",
    "payload_redact",
    "webhook_call_accept",
    "webhook_call_process",
    "webhook_call_rate_record",
    "webhook_call_refuse",
    "webhook_call_replay",
    "webhook_calls_process",
    "webhook_calls_resume_stuck",
    "webhook_refusals_exceeded",
]

"""One-time links. Both are Django's password-reset tokens (HMAC over the user's password hash
and last login, with a timestamp): setting a password or logging in changes one of those, so
each link works once."""

from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


class LoginLinkTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "tessera.members.login_link"


login_link_tokens = LoginLinkTokenGenerator()
set_password_tokens = default_token_generator


def uid_for(user) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))

"""One-time links. Both are Django's password-reset tokens (HMAC over the user's password hash
and last login, with a timestamp): setting a password or logging in changes one of those, so
each link works once."""

from datetime import timedelta

from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

# A login link is asked for on the login page and used at once: a short life leaves little
# time for a forwarded or leaked email to be used. Set-password links (in a welcome email a
# buyer may open days later) keep Django's PASSWORD_RESET_TIMEOUT.
LOGIN_LINK_MAX_AGE = timedelta(minutes=15)


class LoginLinkTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "tessera.members.login_link"

    def check_token(self, user, token):
        if not super().check_token(user, token):
            return False
        issued = base36_to_int(token.split("-")[0])
        return self._num_seconds(self._now()) - issued <= LOGIN_LINK_MAX_AGE.total_seconds()


login_link_tokens = LoginLinkTokenGenerator()
set_password_tokens = default_token_generator


def uid_for(user) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))

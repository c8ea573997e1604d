from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.template import loader

from apps.crm.messaging.outbox import email_transactional_queue
from apps.crm.models import EmailKind


class LoginForm(forms.Form):
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput)


class LoginLinkForm(forms.Form):
    email = forms.EmailField(label="Email")


class AccountForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField()


class MemberPasswordResetForm(PasswordResetForm):
    """Django skips logins without a usable password; a member who never set one (the default
    for new members) must be able to set one this way too."""

    def get_users(self, email):
        return get_user_model()._default_manager.filter(
            email__iexact=email, is_active=True, member__isnull=False
        )

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        """Into the outbox (sent by the worker with retries, visible in the admin), not
        straight to SMTP inside the request."""
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        email_transactional_queue(
            subscriber=context["user"].member.subscriber,
            kind=EmailKind.PASSWORD,
            subject=subject,
            body=loader.render_to_string(email_template_name, context),
            to_email=to_email,
        )

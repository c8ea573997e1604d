from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm


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

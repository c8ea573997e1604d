from django import forms


class OrderForm(forms.Form):
    email = forms.EmailField(label="Email")
    name = forms.CharField(label="Name", max_length=200)
    coupon = forms.CharField(label="Coupon code (optional)", max_length=100, required=False)

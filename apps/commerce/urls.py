from django.urls import path

from . import views

app_name = "commerce"

urlpatterns = [
    path("buy/thanks/", views.thanks_view, name="thanks"),
    path("buy/<slug:slug>/", views.order_form_view, name="order_form"),
    path("stripe/webhook/", views.stripe_webhook_view, name="stripe_webhook"),
    path("orders/", views.my_orders_view, name="my_orders"),
    path("orders/billing/", views.billing_portal_view, name="billing_portal"),
]

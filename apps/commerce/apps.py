from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "apps.commerce"
    label = "commerce"
    verbose_name = "Sales"

    def ready(self) -> None:
        from apps.crm.demo import seed_step_register
        from apps.crm.health import health_check_register
        from apps.crm.timeline import timeline_provider_register
        from apps.members.purchases import purchase_handler_register

        from .carts import CartPurchases
        from .health import sales_health
        from .seed import seed_foundation_price
        from .timeline import orders_timeline

        purchase_handler_register(CartPurchases())
        health_check_register(name="commerce", order=40, check=sales_health)
        seed_step_register(name="commerce.price", order=35, run=seed_foundation_price)
        timeline_provider_register(
            name="commerce", provide=orders_timeline, permissions={"order": "commerce.view_order"}
        )

from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "apps.commerce"
    label = "commerce"
    verbose_name = "Sales"

    def ready(self) -> None:
        from apps.members.purchases import purchase_handler_register
        from config.periodic import PeriodicSpec, connect

        from .carts import CartPurchases
        from .tasks import EVENTS_SWEEP_TASK

        purchase_handler_register(CartPurchases())
        connect(
            self,
            [
                PeriodicSpec(
                    name="commerce: process Stripe events left pending",
                    task=EVENTS_SWEEP_TASK,
                    every_seconds=60,
                )
            ],
        )

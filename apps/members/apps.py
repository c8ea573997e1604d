from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "apps.members"
    label = "members"

    def ready(self) -> None:
        from apps.automations.facts import offering_facts_register
        from apps.crm.delivery import local_receiver_register
        from apps.crm.demo import seed_step_register
        from apps.crm.dispatch import consumer_register
        from apps.crm.liquid import liquid_context_provider_register
        from apps.crm.messaging.held import held_emails_on_events
        from apps.crm.timeline import subscriber_panel_register, timeline_provider_register
        from apps.tags.dependents import tag_dependents_register

        from . import event_types
        from .automation_facts import offering_facts
        from .dependents import endpoint_uses_of_tag
        from .inbound import webhook_local_deliver
        from .seed import seed_demo_member
        from .services import member_liquid_variables
        from .timeline import login_panel, webhook_calls_timeline

        event_types.register()
        # A welcome email held because the login did not exist yet goes out once it does.
        consumer_register(
            name="members.held_emails",
            handle=held_emails_on_events,
            event_types=[event_types.MEMBER_LOGIN_CREATED],
        )
        local_receiver_register(webhook_local_deliver)
        tag_dependents_register(name="members", find=endpoint_uses_of_tag)
        timeline_provider_register(
            name="members",
            provide=webhook_calls_timeline,
            permissions={"webhook call": "members.view_webhookcall"},
        )
        subscriber_panel_register(name="members", provide=login_panel)
        offering_facts_register(name="members", provide=offering_facts)
        liquid_context_provider_register(
            name="members", provide=member_liquid_variables, secrets=["set_password_url"]
        )
        seed_step_register(name="members.demo", order=50, run=seed_demo_member)

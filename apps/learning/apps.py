from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "apps.learning"
    label = "learning"

    def ready(self) -> None:
        from apps.crm.demo import seed_step_register
        from apps.crm.dispatch import consumer_register
        from apps.crm.liquid import liquid_context_provider_register
        from apps.crm.timeline import subscriber_panel_register
        from apps.members.player_hooks import (
            lesson_completion_blocker_register,
            player_gate_register,
            player_panel_register,
        )
        from apps.offerings.event_types import LESSON_COMPLETED
        from apps.tags.dependents import tag_dependents_register
        from apps.tags.event_types import TAG_ADD

        from . import event_types, player
        from .automation_kinds import learning_kinds_register
        from .dependents import learning_uses_of_tag
        from .seed import seed_learning_demo
        from .services.certificates import certificates_on_events
        from .timeline import certificate_liquid_variables, learning_panel

        event_types.register()
        learning_kinds_register()
        player_gate_register(name="learning.choices", gate=player.choice_gate)
        player_panel_register(name="learning", place="lesson", provide=player.lesson_panel)
        player_panel_register(name="learning", place="offering", provide=player.offering_panel)
        player_panel_register(name="learning", place="dashboard", provide=player.dashboard_panel)
        lesson_completion_blocker_register(name="learning.quiz", check=player.quiz_blocker)
        # Each may make a certificate due: every lesson done, a tag, a quiz passed.
        consumer_register(
            name="learning.certificates",
            handle=certificates_on_events,
            event_types=[LESSON_COMPLETED, TAG_ADD, event_types.QUIZ_COMPLETED],
        )
        tag_dependents_register(name="learning", find=learning_uses_of_tag)
        subscriber_panel_register(name="learning", provide=learning_panel)
        liquid_context_provider_register(name="learning", provide=certificate_liquid_variables)
        seed_step_register(name="learning.demo", order=40, run=seed_learning_demo)

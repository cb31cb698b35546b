from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "newsletter"
    verbose_name = "Newsletter"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from newsletter import checks, schedules  # noqa: F401 (checks register on import)

        post_migrate.connect(schedules.register_schedules, sender=self)

        from anymail.signals import tracking

        from newsletter import webhooks

        tracking.connect(webhooks.record_event, dispatch_uid="newsletter.webhooks")

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

        from newsletter.models import Digest, DigestTopic
        from topics import pagecache

        # The archive pages show digests and their topics (a new digest's topics are
        # inserted in bulk in the digest's own transaction, whose commit retires them).
        pagecache.retire_on_change(Digest, DigestTopic)

"""The admin index's dashboard (templates/admin/index.html)."""

from django import template
from django.utils import timezone

from newsletter.dashboard import Dashboard, build_dashboard

register = template.Library()


@register.simple_tag
def newsroom_dashboard() -> Dashboard:
    return build_dashboard(timezone.now())

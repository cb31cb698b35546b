"""Content-Security-Policy for every response.

Django 5.2 has no CSP support of its own, and the policy we need is small and fixed:
our pages use only first-party scripts and stylesheets, so anything inline that feed
content might smuggle in is refused by the browser even if an escape is ever missed.

The staff-only admin (and its outbox preview, whose email HTML is styled inline and
inherits the page's policy inside a srcdoc frame) may also use inline styles. Scripts
stay first-party everywhere.
"""

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse

HEADER = "Content-Security-Policy"
Directives = dict[str, list[str]]


def build_policy(directives: Directives) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def with_inline_styles(directives: Directives) -> Directives:
    """The policy with inline styles allowed (scripts unchanged)."""
    relaxed = {name: list(sources) for name, sources in directives.items()}
    styles = [source for source in relaxed.get("style-src", ["'self'"]) if "sha" not in source]
    # A hash in style-src would make browsers ignore 'unsafe-inline'.
    relaxed["style-src"] = [*styles, "'unsafe-inline'"]
    return relaxed


@functools.cache
def admin_prefix() -> str:
    # Fixed for the process's life, and reversing it on every response cost ~50 µs of CPU.
    return reverse("admin:index")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.policy = build_policy(settings.DAYBRIEF_CSP)
        self.admin_policy = build_policy(with_inline_styles(settings.DAYBRIEF_CSP))

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if HEADER not in response:
            staff_page = request.path.startswith(admin_prefix())
            response[HEADER] = self.admin_policy if staff_page else self.policy
        return response

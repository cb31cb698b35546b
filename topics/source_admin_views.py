"""SourceAdmin's extra pieces: the health column and "add by site URL" (feed discovery)."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from topics.discovery import DiscoveryError, add_source_from_site
from topics.models import Kind, Relation, Source

ERRORS_WORTH_A_LOOK = 5
URLList = list[URLPattern]


class AddBySiteForm(forms.Form):
    site_url = forms.URLField(label="Site address", assume_scheme="https", max_length=2000)
    relation = forms.ChoiceField(choices=Relation.choices, initial=Relation.THIRD_PARTY)
    default_kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.NEWS)


def source_urls(model_admin: admin.ModelAdmin[Source]) -> URLList:
    view = model_admin.admin_site.admin_view(add_by_site_view(model_admin))
    return [path("add-by-site/", view, name="topics_source_add_by_site")]


def add_by_site_hint(model_admin: admin.ModelAdmin[Source], request: HttpRequest) -> None:
    """Point editors on the add form to discovery, when they only know the site."""
    url = reverse("admin:topics_source_add_by_site")
    link = format_html('Only know the site? <a href="{}">Add it by its home page address</a>.', url)
    model_admin.message_user(request, mark_safe(link), messages.INFO)


def add_by_site_view(
    model_admin: admin.ModelAdmin[Source],
) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        if not model_admin.has_add_permission(request):
            return redirect("admin:index")
        form = AddBySiteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                source = add_source_from_site(
                    data["site_url"], relation=data["relation"], default_kind=data["default_kind"]
                )
            except DiscoveryError as exc:
                form.add_error("site_url", str(exc))
            else:
                model_admin.message_user(request, _added_message(source), messages.SUCCESS)
                return redirect("admin:topics_source_change", source.pk)
        context: dict[str, Any] = {
            **model_admin.admin_site.each_context(request),
            "title": "Add a source by its site address",
            "form": form,
            "opts": model_admin.model._meta,
        }
        return TemplateResponse(request, "admin/topics/source/add_by_site.html", context)

    return view


def health_badge(source: Source) -> str:
    """One line on the source list: is it fine, and if not, why and since when."""
    if not source.is_active:
        return format_html('<span title="{}">⏸ inactive</span>', source.last_error or "paused")
    if source.last_fetched_at is None:
        return "— not fetched yet"
    if source.consecutive_errors:
        mark = "✖" if source.consecutive_errors >= ERRORS_WORTH_A_LOOK else "⚠"
        errors = "error" if source.consecutive_errors == 1 else "errors"
        return format_html(
            "{} {} {}: {}", mark, source.consecutive_errors, errors, source.last_error
        )
    every = _duration(source.publish_interval) if source.publish_interval else ""
    return format_html("✔ OK{}", f", publishes every {every}" if every else "")


def _added_message(source: Source) -> str:
    outcome = source.last_error or f"{source.articles.count()} articles stored"
    return f"Added “{source.name}” ({source.feed_url}): {outcome}."


def _duration(interval: Any) -> str:
    minutes = round(interval.total_seconds() / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 36 else f"{hours / 24:.0f} days"

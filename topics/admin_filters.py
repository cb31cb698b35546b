"""The topic list's filters: by day, coverage and editorial state.

Each filter narrows with indexed columns or the same Exists() the public pages use, so a
filtered page of 20,000 topics costs what an unfiltered one does.
"""

import datetime as dt
from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from topics.models import Topic, TopicCategory, TopicQuerySet

# How many past days the day filter offers besides today and yesterday.
DAY_CHOICES = 7
NEW_HOURS = 24


class DayFilter(admin.SimpleListFilter):
    """Topics with an article first seen that day: what the site and the digest show."""

    title = "day"
    parameter_name = "day"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        today = timezone.localdate()
        choices = [("today", "Today"), ("yesterday", "Yesterday")]
        for back in range(2, DAY_CHOICES):
            day = today - dt.timedelta(days=back)
            choices.append((day.isoformat(), f"{day:%a %d %b}"))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Topic]) -> QuerySet[Topic]:
        day = self.day()
        # The changelist filters Topic.objects, so the queryset is a TopicQuerySet.
        return cast(TopicQuerySet, queryset).for_day(day) if day else queryset

    def day(self) -> dt.date | None:
        value = self.value()
        today = timezone.localdate()
        if value == "today":
            return today
        if value == "yesterday":
            return today - dt.timedelta(days=1)
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            return None


class CategoryFilter(admin.SimpleListFilter):
    """The editable category list, not a DISTINCT over every topic."""

    title = "category"
    parameter_name = "category"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        categories = TopicCategory.objects.order_by("position", "slug")
        return [(c.slug, c.name) for c in categories]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Topic]) -> QuerySet[Topic]:
        return queryset.filter(category=self.value()) if self.value() else queryset


class ImportanceFilter(admin.SimpleListFilter):
    title = "importance"
    parameter_name = "importance"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [(str(n), f"{n}/5") for n in range(5, 0, -1)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Topic]) -> QuerySet[Topic]:
        value = self.value()
        return queryset.filter(importance=int(value)) if value and value.isdigit() else queryset


class CoverageFilter(admin.SimpleListFilter):
    title = "coverage"
    parameter_name = "coverage"
    RANGES = {"single": (0, 1), "some": (2, 3), "wide": (4, None)}

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [("single", "Single source"), ("some", "2-3 sources"), ("wide", "4+ sources")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Topic]) -> QuerySet[Topic]:
        value = self.value()
        if value is None or value not in self.RANGES:
            return queryset
        low, high = self.RANGES[value]
        queryset = queryset.filter(source_count__gte=low)
        return queryset if high is None else queryset.filter(source_count__lte=high)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [
            ("new", f"New (last {NEW_HOURS} h, untouched)"),
            ("pinned", "Pinned"),
            ("hidden", "Hidden"),
            ("locked", "Locked"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Topic]) -> QuerySet[Topic]:
        value = self.value()
        if value == "new":
            since = timezone.now() - dt.timedelta(hours=NEW_HOURS)
            return queryset.filter(
                created_at__gte=since, is_pinned=False, is_hidden=False, is_locked=False
            )
        if value in ("pinned", "hidden", "locked"):
            return queryset.filter(**{f"is_{value}": True})
        return queryset

"""Digest timing in the admin: the daily digest schedule (one row, edited in place) and
sending one day's digest at a chosen time, cancelling that, or sending it now."""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from newsletter import schedules, scheduling
from newsletter.models import Digest, DigestSchedule


@admin.register(DigestSchedule)
class DigestScheduleAdmin(admin.ModelAdmin[DigestSchedule]):
    """One row, edited in place: when the daily digest goes out, or that it does not."""

    fields = ("send_time", "paused", "time_zone", "upcoming")
    readonly_fields = ("time_zone", "upcoming")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            return HttpResponse("You may not see the digest schedule.", status=403)
        current = DigestSchedule.objects.get_current()
        return redirect("admin:newsletter_digestschedule_change", current.pk)

    def save_model(
        self, request: HttpRequest, obj: DigestSchedule, form: forms.Form, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        schedules.apply_daily_schedule(obj)

    def response_change(self, request: HttpRequest, obj: DigestSchedule) -> HttpResponse:
        # Stay on the page: there is no list to go back to, and it shows the next send.
        self.message_user(request, f"Saved. {upcoming_text(timezone.now())}", messages.SUCCESS)
        return redirect("admin:newsletter_digestschedule_change", obj.pk)

    @admin.display(description="Time zone")
    def time_zone(self, obj: DigestSchedule) -> str:
        return timezone.get_current_timezone_name()

    @admin.display(description="Next send")
    def upcoming(self, obj: DigestSchedule) -> str:
        upcoming = scheduling.next_send(timezone.now())
        return str(upcoming) if upcoming else "none while paused"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, object] | None = None,
    ) -> HttpResponse:
        # Saving already stays on the page.
        extra = {"show_save_and_continue": False, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: DigestSchedule | None = None
    ) -> bool:
        return False


def upcoming_text(now: dt.datetime) -> str:
    upcoming = scheduling.next_send(now)
    if upcoming is None:
        return "No digest is scheduled: the daily schedule is paused."
    return f"Next send: {upcoming}."


class ScheduleSendForm(forms.Form):
    send_at = forms.DateTimeField(
        label="Start sending at",
        # The browser's date and time picker; the value is read in the site's time zone.
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )


def run_scheduling(data: dict[str, str], day: dt.date) -> tuple[int, str]:
    """Carry out one scheduling control for `day`'s digest; (level, what to tell)."""
    operation = data.get("operation", "")
    if operation == "schedule":
        form = ScheduleSendForm(data)
        if not form.is_valid():
            return messages.ERROR, "Choose a date and time to start sending."
        try:
            scheduled = scheduling.schedule_send(day, form.cleaned_data["send_at"], timezone.now())
        except scheduling.CannotSchedule as exc:
            return messages.ERROR, str(exc)
        when = timezone.localtime(scheduled.send_at)
        return (
            messages.SUCCESS,
            f"The digest for {day:%Y-%m-%d} starts sending {when:%a %d %b %H:%M}.",
        )
    if operation == "cancel":
        if not scheduling.cancel_send(day):
            return messages.WARNING, "No send was scheduled."
        return messages.SUCCESS, f"Cancelled the scheduled send of the digest for {day:%Y-%m-%d}."
    if operation == "send":
        digest = scheduling.send_now(day)
        return messages.SUCCESS, f"Sending {digest} now."
    return messages.ERROR, "Unknown operation."


def sending_plan(
    request: HttpRequest, admin: admin.ModelAdmin[Digest], day: dt.date
) -> dict[str, object]:
    """What the digest page and today's preview show about when `day`'s digest goes out."""
    waiting = scheduling.waiting_send(day)
    initial = timezone.localtime(waiting.send_at) if waiting else None
    return {
        "plan_day": day,
        "waiting_send": waiting,
        "next_send": scheduling.next_send(timezone.now()),
        "schedule_form": ScheduleSendForm(initial={"send_at": initial}),
        "can_send": admin.has_change_permission(request),
        "time_zone": timezone.get_current_timezone_name(),
    }

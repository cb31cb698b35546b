"""The newsletter's admin: readers (with CSV import and export), digests with their preview,
sending controls, scheduling and live delivery counts, the daily digest schedule, and the
read-only logs of deliveries and of reader emails (confirmation links, goodbyes)."""

import csv
import io

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from newsletter import digests, previews, scheduling, sending
from newsletter.models import (
    Delivery,
    DeliveryStatus,
    Digest,
    DigestSchedule,
    DigestTopic,
    ReaderEmail,
    ScheduledSend,
    Subscriber,
)
from newsletter.schedule_admin import run_scheduling, sending_plan
from newsletter.subscriptions import ImportResult, ImportRow, import_subscribers

admin.site.site_header = "Daybrief newsroom"
admin.site.site_title = "Daybrief newsroom"
admin.site.index_title = "Sources, topics, readers and digests"

# A reader's page lists this many of their latest deliveries; the log has the rest.
RECENT_DELIVERIES = 20
# The live status fragment reloads itself this often while a digest is being sent.
STATUS_REFRESH_SECONDS = 5
EXPORT_COLUMNS = ("email", "name", "status", "created_at", "confirmed_at", "unsubscribed_at")


class ImportForm(forms.Form):
    file = forms.FileField(help_text="UTF-8 CSV with an 'email' column and optionally 'name'.")
    confirmed = forms.BooleanField(
        required=False,
        help_text="They already opted in elsewhere (you can show their consent): new and "
        "pending addresses become confirmed and get the next digest. Otherwise they are "
        "added as pending and get nothing until they sign up themselves.",
    )


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin[Subscriber]):
    list_display = ("email", "name", "status", "created_at", "confirmed_at")
    list_filter = ("status",)
    search_fields = ("email", "name")
    readonly_fields = ("created_at", "confirmed_at", "unsubscribed_at", "recent_deliveries")
    show_full_result_count = False
    actions = ("export_csv",)
    change_list_template = "admin/newsletter/subscriber/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="newsletter_subscriber_import"), *super().get_urls()]

    @admin.display(description="Latest deliveries")
    def recent_deliveries(self, subscriber: Subscriber) -> str:
        if subscriber.pk is None:
            return "—"
        rows = subscriber.deliveries.select_related("digest").order_by("-digest__date")
        context = {
            "deliveries": rows[:RECENT_DELIVERIES],
            "all_url": reverse("admin:newsletter_delivery_changelist")
            + f"?subscriber__id__exact={subscriber.pk}",
        }
        return render_to_string("admin/newsletter/subscriber/deliveries.html", context)

    @admin.action(description="Export selected subscribers as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="subscribers.csv"'
        writer = csv.writer(response)
        writer.writerow(EXPORT_COLUMNS)
        for row in queryset.order_by("email").values_list(*EXPORT_COLUMNS).iterator():
            writer.writerow(["" if value is None else value for value in row])
        return response

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse("You may not add subscribers.", status=403)
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                rows = read_csv(form.cleaned_data["file"].read())
            except (UnicodeDecodeError, csv.Error, ValueError) as exc:
                form.add_error("file", f"Cannot read this file: {exc}")
            else:
                result = import_subscribers(rows, confirmed=form.cleaned_data["confirmed"])
                self.report_import(request, len(rows), result)
                return redirect("admin:newsletter_subscriber_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import subscribers",
            "form": form,
        }
        return TemplateResponse(request, "admin/newsletter/subscriber/import.html", context)

    def report_import(self, request: HttpRequest, total: int, result: ImportResult) -> None:
        invalid = result.invalid
        self.message_user(
            request,
            f"{total} rows: {result.created} new, {result.confirmed} confirmed, "
            f"{result.unchanged} already known and unchanged, {len(invalid)} skipped.",
            messages.SUCCESS if not invalid else messages.WARNING,
        )
        for line, reason in invalid[:20]:
            self.message_user(request, f"Line {line}: {reason}", messages.WARNING)


def read_csv(data: bytes) -> list[ImportRow]:
    """Rows of an uploaded CSV whose header names an 'email' (and maybe a 'name') column."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    if "email" not in columns:
        raise ValueError("the header row has no 'email' column")
    email_column, name_column = columns["email"], columns.get("name")
    return [
        ImportRow(reader.line_num, record.get(email_column) or "", record.get(name_column) or "")
        for record in reader
    ]


class DigestTopicInline(admin.TabularInline[DigestTopic, Digest]):
    model = DigestTopic
    fields = ("position", "topic")
    raw_id_fields = ("topic",)
    ordering = ("position",)
    extra = 0


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin[Digest]):
    list_display = ("date", "subject", "status", "starts_sending", "delivery_counts")
    list_filter = ("status",)
    search_fields = ("subject",)
    readonly_fields = ("created_at", "sent_at", "live_status")
    inlines = (DigestTopicInline,)
    change_form_template = "admin/newsletter/digest/change_form.html"
    change_list_template = "admin/newsletter/digest/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Digest]:
        # One grouped query with a filtered count per status; a digest has at most one
        # delivery per subscriber, so the join stays the size of the mailing list.
        counts = {
            _count_name(status): Count("deliveries", filter=Q(deliveries__status=status))
            for status in DeliveryStatus.values
        }
        # The time an editor chose, if any: one indexed lookup per row inside the same query.
        chosen = ScheduledSend.objects.waiting().filter(date=OuterRef("date"))
        return (
            super()
            .get_queryset(request)
            .annotate(**counts, scheduled_at=Subquery(chosen.values("send_at")[:1]))
        )

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [
            path("today/", site.admin_view(self.today_view), name="newsletter_digest_today"),
            path(
                "<int:pk>/preview/",
                site.admin_view(self.preview_view),
                name="newsletter_digest_preview",
            ),
            path(
                "<int:pk>/status/",
                site.admin_view(xframe_options_sameorigin(self.status_view)),
                name="newsletter_digest_status",
            ),
            path(
                "<int:pk>/control/",
                site.admin_view(require_POST(self.control_view)),
                name="newsletter_digest_control",
            ),
            path(
                "day/<str:day>/schedule/",
                site.admin_view(require_POST(self.schedule_view)),
                name="newsletter_digest_schedule",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Starts sending", ordering="scheduled_at")
    def starts_sending(self, digest: Digest) -> str:
        chosen = getattr(digest, "scheduled_at", None)
        return f"{timezone.localtime(chosen):%a %d %b, %H:%M}" if chosen else "—"

    @admin.display(description="Deliveries")
    def delivery_counts(self, digest: Digest) -> str:
        counts = [(s, getattr(digest, _count_name(s))) for s in DeliveryStatus.values]
        return " · ".join(f"{count} {status}" for status, count in counts if count) or "none"

    @admin.display(description="Sending")
    def live_status(self, digest: Digest) -> str:
        if digest.pk is None:
            return "—"
        url = reverse("admin:newsletter_digest_status", args=[digest.pk])
        # An iframe that reloads itself: live counts with no JavaScript at all.
        return format_html(
            '<iframe src="{}" title="Delivery counts" style="border:0;width:100%;height:4.5em">'
            "</iframe>",
            url,
        )

    # --- Preview ------------------------------------------------------------------

    def today_view(self, request: HttpRequest) -> HttpResponse:
        """Today's digest preview, built or not (see previews.preview_day)."""
        day = timezone.localdate()
        segment = previews.segment_from(request.GET.get("segment", ""))
        preview = previews.preview_day(day, chosen_subscriber(request), segment)
        # Once built, its timing is on the digest's own page.
        plan = {} if preview.is_built else sending_plan(request, self, day)
        return self.render_preview(request, None, preview, f"Today's digest ({day:%a %d %b})", plan)

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        digest = get_object_or_404(Digest, pk=pk)
        segment = previews.segment_from(request.GET.get("segment", ""))
        preview = previews.preview_digest(digest, chosen_subscriber(request), segment)
        return self.render_preview(request, digest, preview, f"Preview of {digest}")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        extra = {"next_send": scheduling.next_send(timezone.now()), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, object] | None = None,
    ) -> HttpResponse:
        day = Digest.objects.filter(pk=object_id).values_list("date", flat=True).first()
        extra = sending_plan(request, self, day) if day else {}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def render_preview(
        self,
        request: HttpRequest,
        digest: Digest | None,
        preview: previews.Preview,
        title: str,
        extra: dict[str, object] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra or {}),
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "digest": digest,
            "preview": preview,
            "format": "text" if request.GET.get("format") == "text" else "html",
            "subscriber": request.GET.get("subscriber", ""),
            "segment": request.GET.get("segment", ""),
            "segments": digest_segments(digest),
            "subscribers": Subscriber.objects.confirmed().order_by("email")[:200],
        }
        return TemplateResponse(request, "admin/newsletter/digest/preview.html", context)

    # --- Sending ------------------------------------------------------------------

    def status_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        digest = get_object_or_404(Digest, pk=pk)
        counts = sending.delivery_counts(digest.pk)
        context = {
            "digest": digest,
            "counts": [(DeliveryStatus(s).label, n) for s, n in counts.items()],
            "total": sum(counts.values()),
            "refresh": STATUS_REFRESH_SECONDS if digest.status == "sending" else None,
        }
        return TemplateResponse(request, "admin/newsletter/digest/status.html", context)

    def control_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        digest = get_object_or_404(Digest, pk=pk)
        if not self.has_change_permission(request, digest):
            return HttpResponse("You may not send digests.", status=403)
        operation = request.POST.get("operation", "")
        level, message = run_control(operation, digest, request)
        self.message_user(request, message, level)
        if level != messages.ERROR:
            self.log_change(request, digest, message)
        return redirect("admin:newsletter_digest_change", digest.pk)

    def schedule_view(self, request: HttpRequest, day: str) -> HttpResponse:
        """Send one day's digest at a chosen time, cancel that, or send it now. Only today's
        digest, built or not, or an already built one."""
        date = parse_date(day)
        digest = digests.find_digest(date) if date else None
        if date is None or (digest is None and date != timezone.localdate()):
            raise Http404("No digest for that day.")
        if not self.has_change_permission(request, digest):
            return HttpResponse("You may not send digests.", status=403)
        level, message = run_scheduling(request.POST, date)
        self.message_user(request, message, level)
        # Only what changed something is history; a refusal or a no-op is not.
        if level == messages.SUCCESS:
            # Before the digest is built, its timing is part of the schedule's history.
            logged = digests.find_digest(date) or DigestSchedule.objects.get_current()
            # LogEntry takes any model; the stubs allow only this admin's (Digest).
            self.log_change(request, logged, message)  # type: ignore[arg-type]
        if digest is None:
            return redirect("admin:newsletter_digest_today")
        return redirect("admin:newsletter_digest_change", digest.pk)


def run_control(operation: str, digest: Digest, request: HttpRequest) -> tuple[int, str]:
    """Carry out one sending control; (message level, what to tell the editor)."""
    if operation == "test":
        address = request.user.email  # type: ignore[union-attr]
        if not address:
            return messages.ERROR, "Your user has no email address to send a test to."
        sending.send_test(digest.pk, address)
        return messages.SUCCESS, f"Sent a test of {digest} to {address}."
    if operation == "send":
        scheduling.send_now(digest.date)
        return messages.SUCCESS, f"Sending {digest} now."
    if operation == "pause":
        done = sending.pause_digest(digest.pk)
        return outcome(done, f"Paused {digest}.", "It was not being sent.")
    if operation == "resume":
        done = sending.resume_digest(digest.pk)
        return outcome(done, f"Resumed {digest}.", "It was not paused.")
    if operation == "retry":
        count = sending.retry_failed(digest.pk)
        return messages.SUCCESS, f"Retrying {count} failed deliveries of {digest}."
    return messages.ERROR, "Unknown operation."


def outcome(done: bool, success: str, nothing: str) -> tuple[int, str]:
    return (messages.SUCCESS, success) if done else (messages.WARNING, nothing)


def digest_segments(digest: Digest | None) -> list[str]:
    """The preference segments the digest's readers fall in (a handful, not one per reader)."""
    if digest is None:
        return []
    rows = digest.deliveries.exclude(segment="").values_list("segment", flat=True)
    return sorted(set(rows.order_by().distinct()))


def chosen_subscriber(request: HttpRequest) -> Subscriber | None:
    """The reader picked on the preview page (?subscriber=<email or id>), if any."""
    value = request.GET.get("subscriber", "").strip()
    if not value:
        return None
    if value.isdigit():
        return Subscriber.objects.filter(pk=int(value)).first()
    return Subscriber.objects.filter(email=value.lower()).first()


def _count_name(status: str) -> str:
    return f"{status}_deliveries"


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin[Delivery]):
    """A log: what was sent to whom is recorded by the sender, never edited by hand."""

    list_display = ("digest", "subscriber", "status", "attempts", "sent_at", "short_error")
    list_filter = ("status", "digest")
    search_fields = ("subscriber__email", "message_id")
    list_select_related = ("digest", "subscriber")
    show_full_result_count = False

    @admin.display(description="Error")
    def short_error(self, delivery: Delivery) -> str:
        return delivery.error[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False


@admin.register(ReaderEmail)
class ReaderEmailAdmin(admin.ModelAdmin[ReaderEmail]):
    """A log: confirmation links and goodbyes, each recorded with the reader's action and
    settled by the task that sent it (newsletter/readermail.py)."""

    list_display = ("subscriber", "kind", "status", "attempts", "created_at", "sent_at", "error")
    list_filter = ("status", "kind")
    search_fields = ("subscriber__email",)
    list_select_related = ("subscriber",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ReaderEmail | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ReaderEmail | None = None) -> bool:
        return False

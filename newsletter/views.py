"""Public newsletter pages: subscribe, confirm, unsubscribe, and the digest archive."""

import datetime as dt
import json

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from newsletter import cards, ratelimit, readerdata, subscriptions, tokens
from newsletter.forms import PreferencesForm, SubscribeForm
from newsletter.models import Digest
from newsletter.ratelimit import SignupRefused
from topics.pagecache import cached_page


def link_error(request: HttpRequest) -> HttpResponse:
    return render(request, "newsletter/link_error.html", status=400)


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            start_signup(request, form.cleaned_data, form.is_bot())
        except SignupRefused as refusal:
            form.add_error("email", str(refusal))
            status = 429 if refusal.retry_after else 400
            return render(request, "newsletter/subscribe.html", {"form": form}, status=status)
        # The same answer whatever happened, so the form tells nobody who is subscribed.
        return redirect("newsletter:subscribe_pending")
    return render(request, "newsletter/subscribe.html", {"form": form})


@csrf_exempt  # Only starts a double opt-in; other sites' forms and apps post here.
@require_POST
def subscribe_json(request: HttpRequest) -> JsonResponse:
    """POST {"email": "...", "name": "..."} → 202 {"status": "pending"}, whether or not the
    address was already subscribed; 400 {"error": ...} or 429 with Retry-After."""
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "The body must be a JSON object."}, status=400)
    form = SubscribeForm(payload if isinstance(payload, dict) else {})
    if not form.is_valid():
        return JsonResponse({"error": "That does not look like an email address."}, status=400)
    try:
        start_signup(request, form.cleaned_data, form.is_bot())
    except SignupRefused as refusal:
        response = JsonResponse({"error": str(refusal)}, status=429 if refusal.retry_after else 400)
        if refusal.retry_after:
            response["Retry-After"] = str(refusal.retry_after)
        return response
    message = "Check your inbox: we sent a link to confirm your subscription."
    return JsonResponse({"status": "pending", "message": message}, status=202)


def start_signup(request: HttpRequest, data: dict[str, str], is_bot: bool) -> None:
    if is_bot:
        # Bots get the same answer as people and cost us nothing.
        return
    ratelimit.check_signup(request.META.get("REMOTE_ADDR", ""), data["email"])
    subscriptions.request_subscription(data["email"], data.get("name", ""))


def subscribe_pending(request: HttpRequest) -> HttpResponse:
    return render(request, "newsletter/subscribe_pending.html")


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    # GET only shows a button: mail scanners that open every link must not confirm for
    # someone who never asked.
    if request.method == "GET":
        if subscriptions.subscriber_for_token(tokens.CONFIRM, token) is None:
            return link_error(request)
        return render(request, "newsletter/confirm.html", {"token": token})
    subscriber = subscriptions.confirm_subscription(token)
    if subscriber is None:
        return link_error(request)
    return render(request, "newsletter/confirmed.html", {"subscriber": subscriber})


@csrf_exempt  # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" with no cookies.
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    # GET only shows a button, so link scanners cannot unsubscribe anyone.
    if request.method == "GET":
        if subscriptions.subscriber_for_token(tokens.UNSUBSCRIBE, token) is None:
            return link_error(request)
        return render(request, "newsletter/unsubscribe.html", {"token": token})
    # A person pressing the page's button gets a goodbye email; a mail client's one-click
    # POST does not.
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    subscriber = subscriptions.unsubscribe(token, notify=not one_click)
    if subscriber is None:
        return link_error(request)
    return render(request, "newsletter/unsubscribed.html")


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """The reader's own settings, reached through the signed link in every email."""
    subscriber = subscriptions.subscriber_for_token(tokens.PREFERENCES, token)
    if subscriber is None:
        return link_error(request)
    form = PreferencesForm(request.POST or None, instance=subscriber)
    saved = request.method == "POST" and form.is_valid()
    if saved:
        form.save()
    unsubscribe_token = tokens.make_token(tokens.UNSUBSCRIBE, subscriber.pk)
    context = {
        "form": form,
        "saved": saved,
        "token": token,
        "unsubscribe_token": unsubscribe_token,
    }
    return render(request, "newsletter/preferences.html", context)


@require_POST
def my_data(request: HttpRequest, token: str) -> HttpResponse:
    """Everything we keep about the reader, as a JSON download."""
    subscriber = subscriptions.subscriber_for_token(tokens.PREFERENCES, token)
    if subscriber is None:
        return link_error(request)
    response = JsonResponse(readerdata.export_reader(subscriber), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="daybrief-my-data.json"'
    return response


@require_POST
def erase(request: HttpRequest, token: str) -> HttpResponse:
    """Delete the reader's data for good (the form asks them to tick a box first)."""
    subscriber = subscriptions.subscriber_for_token(tokens.PREFERENCES, token)
    if subscriber is None:
        return link_error(request)
    if request.POST.get("confirm") != "yes":
        return redirect("newsletter:preferences", token)
    readerdata.erase_reader(subscriber.pk)
    return render(request, "newsletter/erased.html")


@cached_page(staff_sees_more=False)
def archive(request: HttpRequest, day: str) -> HttpResponse:
    """The public web version of a day's digest: the same cards, nobody's personal data."""
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise Http404("Not a date.") from None
    digest = get_object_or_404(Digest, date=date)
    context = {"digest": digest, "cards": cards.digest_cards(digest)}
    return render(request, "newsletter/archive.html", context)

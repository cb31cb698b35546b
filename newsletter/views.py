"""Public newsletter pages: subscribe, confirm, unsubscribe, and the digest archive."""

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from newsletter import cards, subscriptions, tokens
from newsletter.forms import SubscribeForm
from newsletter.models import Digest


def link_error(request: HttpRequest) -> HttpResponse:
    return render(request, "newsletter/link_error.html", status=400)


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not form.is_bot():
            subscriptions.request_subscription(
                form.cleaned_data["email"], form.cleaned_data["name"]
            )
        # The same answer whatever happened, so the form tells nobody who is subscribed.
        return redirect("newsletter:subscribe_pending")
    return render(request, "newsletter/subscribe.html", {"form": form})


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


def archive(request: HttpRequest, day: str) -> HttpResponse:
    """The public web version of a day's digest: the same cards, nobody's personal data."""
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise Http404("Not a date.") from None
    digest = get_object_or_404(Digest, date=date)
    context = {"digest": digest, "cards": cards.digest_cards(digest)}
    return render(request, "newsletter/archive.html", context)

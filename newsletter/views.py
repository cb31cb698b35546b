# Placeholder: owned by the newsletter helper.
from django.http import HttpResponse


def subscribe(request):
    return HttpResponse("")


def subscribe_pending(request):
    return HttpResponse("")


def confirm(request, token):
    return HttpResponse("")


def unsubscribe(request, token):
    return HttpResponse("")


def archive(request, day):
    return HttpResponse("")

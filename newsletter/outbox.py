# Placeholder: owned by the newsletter helper (outbox email backend and admin pages).
from django.http import HttpResponse


def outbox_index(request):
    return HttpResponse("")


def outbox_message(request, name):
    return HttpResponse("")

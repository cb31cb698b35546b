from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from newsletter import health, metrics, outbox, views

newsletter_patterns = [
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe.json", views.subscribe_json, name="subscribe_json"),
    path("subscribe/check-your-inbox/", views.subscribe_pending, name="subscribe_pending"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("preferences/<str:token>/", views.preferences, name="preferences"),
    path("preferences/<str:token>/my-data/", views.my_data, name="my_data"),
    path("preferences/<str:token>/erase/", views.erase, name="erase"),
    path("digests/<str:day>/", views.archive, name="archive"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/outbox/", outbox.outbox_index, name="outbox_index"),
    path("admin/outbox/<str:name>", outbox.outbox_message, name="outbox_message"),
    path("admin/", admin.site.urls),
    # Provider tracking webhooks (bounces, complaints): newsletter/webhooks.py.
    path("anymail/", include("anymail.urls")),
    path("", include((newsletter_patterns, "newsletter"))),
    path("", include("topics.urls")),
]

if settings.DAYBRIEF_DEMO:
    urlpatterns.append(path("demo/", include("topics.demo.urls")))

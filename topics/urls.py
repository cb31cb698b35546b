# Placeholder: owned by the web helper.
from django.http import HttpResponse
from django.urls import path

app_name = "topics"
urlpatterns = [
    path("", lambda request: HttpResponse(""), name="index"),
    path("topics/<str:cluster_id>/", lambda request, cluster_id: HttpResponse(""), name="detail"),
]

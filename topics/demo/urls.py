from django.urls import path

from topics.demo import views

app_name = "demo"
urlpatterns = [
    path("", views.index, name="index"),
    path("feeds/<slug:slug>.xml", views.feed, name="feed"),
    path("<slug:slug>/", views.source_page, name="source"),
    path("<slug:slug>/<slug:article_slug>/", views.article_page, name="article"),
]

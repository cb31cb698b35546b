"""The demo newsroom on the running site: each source's feed, plus plain pages for its
homepage and articles so that the links in the feeds (and in topic cards) lead somewhere."""

from django.http import Http404, HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_safe

from topics.demo.content import SOURCES, DemoArticle, DemoSource, articles_of, get_article
from topics.demo.content import get_source as find_source
from topics.demo.feeds import render_feed
from topics.demo.loading import demo_anchor

_INDEX = """{% extends "base.html" %}
{% block title %}Demo newsroom · Daybrief{% endblock %}
{% block content %}<h1>The demo newsroom</h1>
<p>Fictional sources whose feeds Daybrief fetches like any other.</p>
<ul>{% for source in sources %}
  <li><a href="{% url 'demo:source' source.slug %}">{{ source.name }}</a>
  ({{ source.feed_format|upper }}: <a href="{% url 'demo:feed' source.slug %}">feed</a>)</li>
{% endfor %}</ul>{% endblock %}"""

_SOURCE = """{% extends "base.html" %}
{% block title %}{{ source.name }} · Daybrief demo{% endblock %}
{% block content %}<h1>{{ source.name }}</h1>
<p>{{ source.description }} <a href="{% url 'demo:feed' source.slug %}">Feed</a></p>
<ul>{% for item in items %}
  <li><a href="{% url 'demo:article' source.slug item.article.slug %}">{{ item.article.title }}</a>
  <time datetime="{{ item.published|date:'c' }}">{{ item.published }}</time></li>
{% endfor %}</ul>{% endblock %}"""

_ARTICLE = """{% extends "base.html" %}
{% block title %}{{ article.title }} · {{ source.name }}{% endblock %}
{% block content %}<article>
<p><a href="{% url 'demo:source' source.slug %}">{{ source.name }}</a></p>
<h1>{{ article.title }}</h1>
<p>{% if article.author %}By {{ article.author }} · {% endif %}
<time datetime="{{ published|date:'c' }}">{{ published }}</time></p>
<p>{{ article.summary }}</p>
<p><small>A fictional article from the Daybrief demo newsroom.</small></p>
</article>{% endblock %}"""


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    return _render(request, _INDEX, {"sources": SOURCES})


@require_safe
def feed(request: HttpRequest, slug: str) -> HttpResponse:
    source = _get_source(slug)
    rendered = render_feed(
        source,
        demo_anchor(),
        homepage_url=request.build_absolute_uri(reverse("demo:source", args=[slug])),
        article_url=lambda article: _article_url(request, article),
        feed_url=request.build_absolute_uri(),
    )
    etag = quote_etag(rendered.etag)
    # Whole seconds, as HTTP dates carry: a fraction would make the feed look newer than the
    # If-Modified-Since a reader sends back, and that alone would never get a 304.
    last_modified = int(rendered.last_modified.timestamp())
    # Answer If-None-Match / If-Modified-Since with a 304, as a well-behaved feed host does.
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    response = not_modified or HttpResponse(rendered.body, content_type=rendered.content_type)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    return response


@require_safe
def source_page(request: HttpRequest, slug: str) -> HttpResponse:
    source = _get_source(slug)
    anchor = demo_anchor()
    items = [{"article": a, "published": a.published_at(anchor)} for a in articles_of(slug)]
    return _render(request, _SOURCE, {"source": source, "items": items})


@require_safe
def article_page(request: HttpRequest, slug: str, article_slug: str) -> HttpResponse:
    source = _get_source(slug)
    article = get_article(slug, article_slug)
    if article is None:
        raise Http404("No such demo article")
    published = article.published_at(demo_anchor())
    context = {"source": source, "article": article, "published": published}
    return _render(request, _ARTICLE, context)


def _get_source(slug: str) -> DemoSource:
    source = find_source(slug)
    if source is None:
        raise Http404("No such demo source")
    return source


def _article_url(request: HttpRequest, article: DemoArticle) -> str:
    return request.build_absolute_uri(reverse("demo:article", args=[article.source, article.slug]))


def _render(request: HttpRequest, template: str, context: dict[str, object]) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(template).render(context, request))

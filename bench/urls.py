"""The product's URLs plus ``bench/bare/``: the cheapest view Django can serve, behind the
same middleware as every page, as a baseline for bench/throughput.py. Only
``bench.settings`` uses this module; the product's URLconf is left as it is.

The project does not use LoginRequiredMiddleware, so the bare view needs no
``login_not_required``; the benchmark sends it the same session cookie as the status
partial, so both pay for loading the session and the user in the middleware.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from dashboard.urls import handler403
from dashboard.urls import urlpatterns as product_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare, name="bench_bare"), *product_urlpatterns]

__all__ = ["handler403", "urlpatterns"]

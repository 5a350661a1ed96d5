"""The project's settings as the benchmarks run them: DEBUG off (no query log, production
templates and error pages), static files served by WhiteNoise straight from the source
folders (no collectstatic step), and ``bench.urls`` as the URLconf, which adds a bare view
beside the product's own URLs. Cookies stay as in development because the benchmarks speak
plain HTTP on loopback. Every process of the benchmark stack uses it (bench/harness.py)."""

from dashboard.settings import *  # noqa: F403

DEBUG = False
WHITENOISE_USE_FINDERS = True
ROOT_URLCONF = "bench.urls"

# The dashboard image: web (gunicorn), Celery worker and beat all run from it.
#
# Built as is from the public python image and PyPI. Two build arguments change only where
# those come from, for machines without a registry or without PyPI inside a build (the compose
# smoke test's CI): PYTHON_IMAGE names another Python 3.12 image, and OFFLINE_WHEELS=1 installs
# the same hash-pinned wheels from ./wheelhouse/ in the build context instead of PyPI.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG OFFLINE_WHEELS=0
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# `wheelhouse*` matches nothing in a normal checkout: then only requirements.txt is copied.
COPY requirements.txt wheelhouse* /wheels/
# Production dependencies only (not requirements-dev.txt), each pinned with its hashes.
RUN if [ "$OFFLINE_WHEELS" = 1 ]; then set -- --no-index --find-links /wheels; fi \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes "$@" -r /wheels/requirements.txt \
 && /opt/venv/bin/pip check
WORKDIR /src
COPY . .
# Static files are collected at build time with throw-away secrets; whitenoise serves them.
RUN rm -rf wheelhouse \
 && DJANGO_ENV=production SECRET_KEY=build-only VPS_API_TOKEN=build-only \
    /opt/venv/bin/python manage.py collectstatic --noinput --verbosity 0

# The runtime image: the base, the virtualenv and the application; no build leftovers.
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN useradd --create-home --uid 10001 dashboard
COPY --from=build /opt/venv /opt/venv
# The code stays root's: the process can read it, not change it.
COPY --from=build /src /app
WORKDIR /app
USER dashboard

EXPOSE 8000
# What compose's web health check asks too; worker and beat define their own there.
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/', timeout=5).status != 200)"]
CMD ["gunicorn", "dashboard.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]

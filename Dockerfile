# The dashboard image: web (gunicorn), Celery worker and beat all run from it.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
# Production dependencies only, each pinned with its hashes.
RUN pip install --require-hashes -r requirements.txt && pip check

COPY . .
# Static files are collected at build time with throw-away secrets; whitenoise serves them.
RUN DJANGO_ENV=production SECRET_KEY=build-only VPS_API_TOKEN=build-only \
    python manage.py collectstatic --noinput \
 && useradd --create-home --uid 10001 dashboard \
 && chown -R dashboard /app
USER dashboard

EXPOSE 8000
CMD ["gunicorn", "dashboard.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]

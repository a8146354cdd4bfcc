# Production image: slim Python, non-root user, gunicorn (gunicorn.conf.py); static files collected at build
# time (served by WhiteNoise). Only the runtime pins (requirements.txt): no test, lint or `make run` packages.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN groupadd --system app && useradd --system --gid app --home-dir /app app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings that pass the production checks; these values exist only for this step
# (nothing connects to Redis while collecting).
RUN DEBUG=false \
    SECRET_KEY=build-only-secret-key-not-used-at-runtime-0123456789abcdef \
    FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktbm90LXVzZWQtYXQtcnVuISE= \
    REDIS_URL=redis://build-only:6379/0 \
    CELERY_BROKER_URL=redis://build-only:6379/0 \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R app:app /app/var

USER app
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "config.wsgi"]

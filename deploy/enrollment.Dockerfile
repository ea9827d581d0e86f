# The enrollment service as docker-compose.yml runs it: `docker build -f deploy/enrollment.Dockerfile .`
# Configured by the environment (SPEC §6): ENROLLMENT_DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS.
# `enrollment serve` applies the database migrations at start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install . \
    && useradd --create-home --uid 10001 app \
    && mkdir var && chown app var

USER app
EXPOSE 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/healthz', timeout=2)"]
CMD ["enrollment", "serve", "--host", "0.0.0.0", "--port", "8001"]

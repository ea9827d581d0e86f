# The settlement service as docker-compose.yml runs it: `docker build -f deploy/settlement.Dockerfile .`
# Configured by the environment (SPEC §6): SETTLEMENT_DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS,
# SETTLEMENT_POLICY.
# `settlement serve` applies the database migrations at start.
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
EXPOSE 8002
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8002/healthz', timeout=2)"]
CMD ["settlement", "serve", "--host", "0.0.0.0", "--port", "8002"]

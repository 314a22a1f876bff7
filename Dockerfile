# tactful's HTTP service: `docker compose up --build` runs two workers on one PostgreSQL (compose.yaml).
# Build stage: a wheel from this checkout (the top-level agents/ graphs/ ... folders are linked into tactful/).
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir "setuptools==84.2.1" wheel \
 && pip wheel --no-cache-dir --no-deps --no-build-isolation -w /wheels .

# Run stage: the wheel and its pinned dependencies, a non-root user, nothing else.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TACTFUL_DATA_DIR=/var/lib/tactful
COPY requirements/constraints.txt /tmp/constraints.txt
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir -c /tmp/constraints.txt "$(echo /wheels/tactful-*.whl)[redis]" \
 && rm -rf /wheels /tmp/constraints.txt \
 && useradd --system --home-dir /var/lib/tactful --create-home tactful
USER tactful
WORKDIR /var/lib/tactful
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
# Without API keys the service refuses a non-loopback address: give TACTFUL_API_KEYS or TACTFUL_API_KEYS_FILE.
CMD ["tactful", "serve", "--host", "0.0.0.0", "--port", "8000"]

# liqmon container image: `liqmon run` by default; compose runs `ingest` and `aggregate`.
#   docker build -t liqmon:local .
#   docker run --rm -p 127.0.0.1:9464:9464 liqmon:local
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A dedicated unprivileged user; its home holds the instrument catalogue cache
# (sources.cache_dir = ~/.cache/liqmon), the one path liqmon writes.
RUN groupadd --system --gid 10001 liqmon \
 && useradd --system --uid 10001 --gid liqmon --home-dir /home/liqmon --create-home \
      --shell /usr/sbin/nologin liqmon \
 && mkdir -p /home/liqmon/.cache/liqmon \
 && chown -R liqmon:liqmon /home/liqmon

# Only what the package build needs (.dockerignore keeps the rest out of the context).
WORKDIR /src
# Exactly the locked versions (requirements/runtime.lock, refreshed by scripts/lock).
COPY pyproject.toml README.md requirements/runtime.lock ./
COPY monitor ./monitor
RUN pip install --require-hashes -r runtime.lock \
 && pip install --no-deps --no-build-isolation . \
 && rm -rf /src

USER liqmon
WORKDIR /home/liqmon

EXPOSE 9464

# /healthz answers while the process serves; the image has no curl, so Python asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=3)"]

ENTRYPOINT ["liqmon"]
CMD ["run", "--metrics-addr", "0.0.0.0:9464"]

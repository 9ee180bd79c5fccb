# syntax=docker/dockerfile:1
# pricewatch: `docker build -t pricewatch .`, or let docker-compose.yml build it.
# Stage 1 builds a wheel of pricewatch and of every dependency; stage 2 installs them from
# those wheels alone, so the final image has no compiler, no pip cache and no source tree.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
# Metadata first: the dependency wheels stay cached while only the code changes.
COPY pyproject.toml README.md LICENSE ./
COPY pricewatch ./pricewatch
COPY migrations ./migrations
# The cluster extra always: one image runs single-process or as a cluster replica.
# PRICEWATCH_EXTRAS=browser adds Playwright (docker-compose.browser.yml sets it, with the
# PLAYWRIGHT_VERSION of its browser service: client and server must be the same release).
# No browser is downloaded: the browser runs in that service.
ARG PRICEWATCH_EXTRAS=""
ARG PLAYWRIGHT_VERSION=""
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[cluster${PRICEWATCH_EXTRAS:+,${PRICEWATCH_EXTRAS}}]" \
    ${PLAYWRIGHT_VERSION:+"playwright==${PLAYWRIGHT_VERSION}"}

FROM python:${PYTHON_VERSION}-slim
ARG UID=10001
LABEL org.opencontainers.image.title="pricewatch" \
      org.opencontainers.image.description="Self-hosted price monitoring with Prometheus metrics" \
      org.opencontainers.image.licenses="MIT"
# A fixed numeric user: volume permissions and Kubernetes runAsNonRoot both need the number.
RUN groupadd --system --gid "${UID}" pricewatch \
    && useradd --system --uid "${UID}" --gid "${UID}" --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin pricewatch \
    && mkdir -p /config /data \
    && chown "${UID}:${UID}" /data
# The wheels are bind-mounted from the build stage, so they never become a layer here. The
# bytecode is compiled into the image: the user cannot write it at run time, and without it
# every `pricewatch once` and every extraction worker compiles its imports first (bench: the
# whole-process cost in docs/performance.md).
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PRICEWATCH_CONFIG=/config/config.yaml \
    PRICEWATCH_SERVER_HOST=0.0.0.0 \
    PRICEWATCH_DATABASE_URL=sqlite:////data/pricewatch.db \
    PRICEWATCH_HEALTH_URL=http://127.0.0.1:9108/healthz
USER ${UID}:${UID}
WORKDIR /data
VOLUME ["/config", "/data"]
EXPOSE 9108
# No curl in a slim image; the interpreter that is already there does the request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['PRICEWATCH_HEALTH_URL'], timeout=4)"]
ENTRYPOINT ["pricewatch"]
CMD ["run", "--log-format", "json"]

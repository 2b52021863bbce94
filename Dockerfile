# syntax=docker/dockerfile:1
# licensebot: `docker build -t licensebot .`, then see docs/deployment.md.
#
# Two stages on the same base image, so the virtual environment built in the first one (absolute
# paths in its scripts, symlinks to /usr/local/bin/python3.11) is valid as it is in the second.

# ---- build: the project and its locked runtime dependencies (no `dev` extra) in /opt/licensebot --
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# The locks (requirements/, docs/development.md): every package pinned with its hashes. The build
# tools (hatchling) go in a throwaway environment, so they stay out of the image.
COPY requirements/ requirements/
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes -r requirements/build.txt \
 && python -m venv /opt/licensebot \
 && /opt/licensebot/bin/pip install --require-hashes -r requirements/runtime.txt

# What the wheel is built from (hatchling): pyproject.toml, the README it names as the package's
# readme, and the four packages of [tool.hatch.build.targets.wheel] (with the Alembic migrations).
COPY pyproject.toml README.md ./
COPY domain/ domain/
COPY storage/ storage/
COPY handlers/ handlers/
COPY bot/ bot/

# The wheel is built with the locked hatchling, then installed without dependencies (they are all
# in place, from the lock). psycopg[binary] ships libpq in its wheel: no system packages and no
# compiler are needed.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
 && /opt/licensebot/bin/pip install --no-deps /tmp/wheels/licensebot-*.whl \
 && /opt/licensebot/bin/pip check \
 && /opt/licensebot/bin/licensebot --help > /dev/null

# ---- runtime: the virtual environment, a non-root user, nothing else ------------------------------
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="licensebot" \
      org.opencontainers.image.description="Microsoft 365 licenses and subscriptions from Slack." \
      org.opencontainers.image.licenses="MIT"

RUN groupadd --system --gid 10001 licensebot \
 && useradd --system --uid 10001 --gid licensebot --create-home --home-dir /home/licensebot \
        --shell /usr/sbin/nologin licensebot \
 && mkdir /data \
 && chown licensebot:licensebot /data

COPY --from=build /opt/licensebot /opt/licensebot

# PORT and HOST are read by `licensebot serve` (bot/settings.py). The working directory /data is
# where the default DATABASE_URL (sqlite:///licensebot.db) puts its file: mount a volume there
# for SQLite; with PostgreSQL nothing is written in the container.
ENV PATH=/opt/licensebot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=3000 \
    HOST=0.0.0.0

WORKDIR /data
USER 10001:10001
EXPOSE 3000

# Liveness of `licensebot serve` in HTTP mode (no curl in the slim image: Python's urllib, with
# proxies ignored). Socket Mode and `licensebot scheduler` listen on no port: run those
# containers with --no-healthcheck (compose: `healthcheck: {disable: true}`).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

# gunicorn (the master is PID 1) stops gracefully on SIGTERM, within its 30 s graceful timeout:
# give it more than that (docker run --stop-timeout 40, compose stop_grace_period: 40s).
CMD ["licensebot", "serve"]

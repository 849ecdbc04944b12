# scim-bridge image: multi-stage, non-root, installed only from the lock file and a wheelhouse
# built on the host (no index, no network during the build or at container start).
#
#   scripts/build-image                         # wheels from requirements.lock, then docker build
#   docker build --build-arg BASE=IMAGE .       # any Debian-like base with python3 (3.11) and venv
#
# Targets: `runtime` (the default, last: API and worker) and `browser` (adds Debian's chromium for the
# TikTok App Authorization browser flow; apt reaches Debian's mirrors during that build only).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# The wheelhouse holds exactly the pinned wheels (hash-checked against requirements.lock) and the
# project's own wheel; pip never looks at an index.
COPY requirements.lock /build/requirements.lock
COPY build/wheels/ /build/wheels/
RUN python3 -m venv /opt/scim-bridge \
 && /opt/scim-bridge/bin/pip install --no-cache-dir --no-index --find-links /build/wheels \
        --require-hashes -r /build/requirements.lock \
 && /opt/scim-bridge/bin/pip install --no-cache-dir --no-index --no-deps /build/wheels/scim_bridge-*.whl \
 && /opt/scim-bridge/bin/python -m compileall -q /opt/scim-bridge \
 && rm -rf /opt/scim-bridge/lib/python3*/site-packages/pip /opt/scim-bridge/lib/python3*/site-packages/pip-*

FROM ${BASE} AS app
RUN useradd --system --uid 10001 --home-dir /var/lib/scim-bridge --create-home --shell /usr/sbin/nologin scim-bridge
COPY --from=build /opt/scim-bridge /opt/scim-bridge
ENV PATH=/opt/scim-bridge/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCIM_BRIDGE_HOST=0.0.0.0 \
    SCIM_BRIDGE_PORT=8000 \
    SCIM_BRIDGE_SECRET_KEY_FILE=/var/lib/scim-bridge/scim-bridge.key
USER 10001:10001
WORKDIR /var/lib/scim-bridge
EXPOSE 8000
# Alive; the balancer asks /readyz (database reachable, schema current, not draining).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SCIM_BRIDGE_PORT', '8000'), timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["scim-bridge"]
CMD ["serve"]

FROM app AS browser
USER root
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001

# The default target (last): the service without a browser.
FROM app AS runtime

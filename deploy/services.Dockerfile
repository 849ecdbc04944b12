# PostgreSQL and HAProxy from Debian's packages, for sites (like these development machines)
# that reach no container registry: docker-compose.yml uses them through POSTGRES_IMAGE and
# HAPROXY_IMAGE. Where a registry is reachable, the defaults (postgres:16, haproxy:2.6) do.
#   docker build -f deploy/services.Dockerfile --target postgres -t scim-bridge-postgres --build-arg BASE=... deploy
#   docker build -f deploy/services.Dockerfile --target haproxy  -t scim-bridge-haproxy  --build-arg BASE=... deploy
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS postgres
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data && chmod 0700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
USER postgres
STOPSIGNAL SIGINT
ENTRYPOINT ["sh", "/usr/local/bin/postgres-entrypoint.sh"]

FROM ${BASE} AS haproxy
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
USER haproxy
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]

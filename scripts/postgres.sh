#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster (Debian's postgresql package, installed by
# scripts/bootstrap.sh) if it is down, makes sure the role `pixelprint` exists with the right to
# create databases, and prints a URL for it on stdout:
#   postgres://pixelprint:pixelprint@127.0.0.1:PORT/postgres
# Tests create one database per test server from that URL and drop it afterwards.
# Idempotent; no step reads standard input; every wait is bounded. Only the URL goes to stdout:
# the tools' own messages (pg_ctlcluster says "Removed stale pid file." after an unclean stop) go to
# stderr, so callers can capture stdout as the URL.
set -euo pipefail

log() { echo "postgres: $*" >&2; }
die() { echo "postgres: error: $*" >&2; exit 1; }

command -v pg_lsclusters > /dev/null || die "PostgreSQL is not installed (run scripts/bootstrap.sh)"
as_root=()
if ((EUID != 0)); then
    command -v sudo > /dev/null || die "starting the cluster needs root or sudo"
    as_root=(sudo -n)
fi

# The newest installed cluster (pg_lsclusters: Ver Cluster Port Status Owner Data Log).
read -r version cluster port status _ < <(pg_lsclusters --no-header | sort -k1,1n | tail -n 1) \
    || true
if [[ -z ${version:-} ]]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
    [[ -n $version ]] || die "no PostgreSQL server version under /usr/lib/postgresql"
    log "creating cluster $version/main"
    timeout 120 "${as_root[@]}" pg_createcluster "$version" main < /dev/null > /dev/null
    read -r version cluster port status _ < <(pg_lsclusters --no-header | sort -k1,1n | tail -n 1)
fi
if [[ $status != online* ]]; then
    log "starting cluster $version/$cluster on port $port"
    timeout 120 "${as_root[@]}" pg_ctlcluster "$version" "$cluster" start < /dev/null >&2 \
        || die "pg_ctlcluster $version $cluster start failed (log: /var/log/postgresql/postgresql-$version-$cluster.log)"
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || die "cluster $version/$cluster does not accept connections on port $port"

psql_admin() {
    timeout 60 "${as_root[@]}" runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" -tA "$@" < /dev/null
}
if [[ $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'pixelprint'") != 1 ]]; then
    log "creating role pixelprint"
    psql_admin -c "CREATE ROLE pixelprint LOGIN CREATEDB PASSWORD 'pixelprint'" >&2
fi
echo "postgres://pixelprint:pixelprint@127.0.0.1:$port/postgres"

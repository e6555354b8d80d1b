# postgres: Debian bookworm's PostgreSQL 15 (bookworm has no 16; the stack names
# postgres:16.4 upstream) with an entrypoint of our own that honours the upstream image's
# POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and PGDATA (bundle/templates/30-postgresql.yaml)
# and runs as uid/gid 999. pg_isready and the server binaries are first on PATH.
PG_MAJOR=15
IMAGE_TAG=$PG_MAJOR
PACKAGES=(postgresql-$PG_MAJOR)
IMAGE_USER=999:999
IMAGE_ENV=(PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  PGDATA=/var/lib/postgresql/data LANG=C.UTF-8)
IMAGE_ENTRYPOINT=(/usr/local/bin/tarmac-postgres-entrypoint)
IMAGE_CMD=(postgres)
IMAGE_STOPSIGNAL=SIGINT
RECIPE_INPUTS=("$HERE/entrypoints/postgres")

recipe_before() {  # uid/gid 999 for postgres (the stack's runAsUser), and no cluster made by apt
  in_root "$1" groupadd -r -g 999 postgres
  in_root "$1" useradd -r -u 999 -g 999 -d /var/lib/postgresql -s /bin/bash postgres
  mkdir -p "$1/etc/postgresql-common/createcluster.d"
  echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/tarmac.conf"
}

recipe_after() {
  install -m 0755 "$HERE/entrypoints/postgres" "$1/usr/local/bin/tarmac-postgres-entrypoint"
  # the socket directory libpq and pg_isready look in, writable for any uid (as upstream)
  install -d -o 999 -g 999 -m 2777 "$1/var/run/postgresql"
  install -d -o 999 -g 999 -m 0777 "$1/var/lib/postgresql/data"
}

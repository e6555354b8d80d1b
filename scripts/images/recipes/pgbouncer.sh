# pgbouncer: Debian bookworm's PgBouncer (1.18). The stack runs
# 'pgbouncer /etc/pgbouncer/pgbouncer.ini' as uid 65534 with a read-only root filesystem and
# its own ini and users file mounted (bundle/templates/32-pgbouncer.yaml).
IMAGE_TAG=1.18
PACKAGES=(pgbouncer)
IMAGE_USER=65534:65534
IMAGE_CMD=(pgbouncer /etc/pgbouncer/pgbouncer.ini)

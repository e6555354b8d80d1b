# What the image scripts build and where they push: written once, sourced by every script here.
# The Airflow versions: the bundle's defaultAirflowTag and the newest 3.3 on PyPI (upgrade tests).
AIRFLOW_VERSIONS=(3.2.0 3.3.2)
# pip's --uploaded-prior-to for each version's lock: the day after its PyPI release.
declare -A AIRFLOW_CUTOFF=([3.2.0]=2026-04-08 [3.3.2]=2026-09-18)
# The providers and clients the stack uses, resolved with apache-airflow into the locks.
AIRFLOW_EXTRAS=(apache-airflow-providers-cncf-kubernetes apache-airflow-providers-celery
  apache-airflow-providers-postgres apache-airflow-providers-fab redis statsd)
TARMAC_REGISTRY_PORT=${TARMAC_REGISTRY_PORT:-5000}
TARMAC_REGISTRY=${TARMAC_REGISTRY:-127.0.0.1:$TARMAC_REGISTRY_PORT}
# Debian's mirror (the one apt on this machine uses) and the suite of the shared base.
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SUITE=bookworm
# Fixed timestamp for image configs and clamped file times (2026-01-01T00:00:00Z).
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}
IMAGES_CACHE=$TARMAC_CACHE/images
export TARMAC_REGISTRY TARMAC_REGISTRY_PORT SOURCE_DATE_EPOCH

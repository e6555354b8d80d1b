# airflow:VERSION: Debian bookworm's python3 (3.11) with apache-airflow and the stack's
# providers installed from airflow-VERSION.lock (--no-deps: nothing is resolved at build time),
# laid out like the official apache/airflow image as far as the stack relies on it: user
# airflow uid 50000 gid 0, HOME /home/airflow, Airflow in /home/airflow/.local (a venv; its bin/
# first on PATH), AIRFLOW_HOME=/opt/airflow with dags/ and logs/ writable for gid 0,
# WORKDIR /opt/airflow, dumb-init as PID 1 before our entrypoint (entrypoints/airflow).
AIRFLOW_LOCK=$HERE/airflow-$IMAGE_TAG.lock
[ -f "$AIRFLOW_LOCK" ] || die "no lock $AIRFLOW_LOCK for airflow:$IMAGE_TAG (scripts/images/lock-airflow $IMAGE_TAG)"
PACKAGES=(python3 python3-venv dumb-init ca-certificates procps)
IMAGE_USER=50000:0
IMAGE_WORKDIR=/opt/airflow
IMAGE_ENV=(PATH=/home/airflow/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  AIRFLOW_HOME=/opt/airflow AIRFLOW_USER_HOME_DIR=/home/airflow HOME=/home/airflow
  AIRFLOW_VERSION=$IMAGE_TAG LANG=C.UTF-8 PYTHONUNBUFFERED=1 DUMB_INIT_SETSID=1)
IMAGE_ENTRYPOINT=(/usr/bin/dumb-init -- /entrypoint)
IMAGE_CMD=()
RECIPE_INPUTS=("$HERE/entrypoints/airflow" "$AIRFLOW_LOCK")
VENV=/home/airflow/.local

recipe_before() {
  in_root "$1" useradd -u 50000 -g 0 -d /home/airflow -m -s /bin/bash airflow
}

recipe_after() {
  local r=$1
  airflow_wheels "$r"
  in_root "$r" python3 -m venv "$VENV"
  in_root "$r" "$VENV/bin/pip" install -q --disable-pip-version-check --no-index --find-links /tmp/wheels \
    --no-deps -r /tmp/airflow.lock
  in_root "$r" "$VENV/bin/pip" check
  umount "$r/tmp/wheels" && rmdir "$r/tmp/wheels"
  install -m 0755 "$HERE/entrypoints/airflow" "$r/entrypoint"
  install -d -o 50000 -g 0 -m 0775 "$r/opt/airflow" "$r/opt/airflow/dags" "$r/opt/airflow/logs" "$r/opt/airflow/plugins"
  chown -R 50000:0 "$r/home/airflow"
  chmod -R g+rwX "$r/home/airflow"
}

# airflow_wheels ROOTFS: every wheel of the lock in $TARMAC_CACHE/images/wheels/<lock hash>,
# made once with the image's own pip and python (sdists are built into wheels there), then
# bind-mounted at /tmp/wheels for the offline install.
airflow_wheels() {
  local r=$1 dir
  dir=$IMAGES_CACHE/wheels/$(hash_of "$AIRFLOW_LOCK")
  grep -v '^#' "$AIRFLOW_LOCK" >"$r/tmp/airflow.lock"
  mkdir -p "$dir" "$r/tmp/wheels"
  mount --bind "$dir" "$r/tmp/wheels"
  if [ ! -f "$dir/.complete" ]; then
    # downloads trust what this machine trusts (its CA bundle, for this step only)
    cp -L "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$r/tmp/host-ca.crt"
    in_root "$r" python3 -m venv /tmp/wheel-venv
    in_root "$r" /tmp/wheel-venv/bin/pip wheel -q --disable-pip-version-check --cert /tmp/host-ca.crt \
      --no-deps -w /tmp/wheels -r /tmp/airflow.lock
    rm -rf "$r/tmp/wheel-venv" "$r/tmp/host-ca.crt"
    touch "$dir/.complete"
  fi
}

# Sourced by tests/realnode/run: the checks of the real-node tier, one function per thing a
# user would look at. Uses BIN, K, WORK, ROOT, HERE, V1, V2 and TARMAC_REGISTRY from run.
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
step() { echo "# $(date -u +%T) $*"; }
note() { echo "#   $*"; }
REGISTRY_STARTED=0

registry_up() {
  if curl -fsS --max-time 3 "http://$TARMAC_REGISTRY/v2/" >/dev/null 2>&1; then
    note "registry already answers at $TARMAC_REGISTRY"
    return 0
  fi
  "$ROOT/scripts/images/registry" up >"$WORK/registry.log" 2>&1 || { tail -20 "$WORK/registry.log"; return 1; }
  REGISTRY_STARTED=1
}

realnode_cleanup() {
  "$ROOT/scripts/realkube/down" --purge >/dev/null 2>&1 || true
  [ "$REGISTRY_STARTED" = 1 ] && "$ROOT/scripts/images/registry" down >/dev/null 2>&1
  rm -rf "$WORK"
}

# The values every stack here shares: images.yaml points at the local registry (written by
# scripts/images/values); values.yaml: the FAB auth manager (the admin user), DAGs from a
# volume (git-sync has no Debian build), requests that fit a 2-CPU node, a short DAG folder
# scan. prod.yaml: the prod overlay's database, replicas and autoscaling brought to this node.
write_values() {
  local dir=$1
  "$ROOT/scripts/images/values" "$V1" >"$dir/images.yaml"
  cat >"$dir/values.yaml" <<EOF
airflowVersion: "$V1"
config:
  core: {auth_manager: airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager}
  dag_processor: {refresh_interval: 5}
createUserJob: {enabled: true}
dags:
  persistence: {enabled: true}
scheduler: {resources: {requests: {cpu: 100m, memory: 512Mi}}}
apiServer: {resources: {requests: {cpu: 100m, memory: 512Mi}}}
dagProcessor: {resources: {requests: {cpu: 100m, memory: 256Mi}}}
triggerer: {resources: {requests: {cpu: 100m, memory: 256Mi}}}
workers: {replicas: 1, resources: {requests: {cpu: 100m, memory: 512Mi}}}
EOF
  cat >"$dir/prod.yaml" <<EOF
scheduler: {replicas: 1}
apiServer: {replicas: 1}
workers: {hpa: {enabled: false}}
data:
  metadataConnection: {host: airflow-db.af-db.svc.cluster.local, sslmode: disable}
EOF
}

# stack_up LABEL NS ARGS...: tarmac with ARGS in NS, timed; the pods as kubectl shows them
stack_up() {
  local label=$1 ns=$2 t rc
  shift 2
  t=$(now)
  "$BIN" -n "$ns" "$@" --timeout 20m >"$WORK/$ns.out" 2>"$WORK/$ns.err"
  rc=$?
  expect "$label: tarmac $1 exits 0 ($(since "$t") s to Ready)" [ "$rc" = 0 ]
  [ "$rc" = 0 ] || tail -15 "$WORK/$ns.err"
  grep -E "^\[ *[0-9.]+s\] [a-z]+: ready in" "$WORK/$ns.err" | sed 's/^/#   /'
  "$K" -n "$ns" get pods -o wide | sed 's/^/#   /'
}

# every pod Running and ready (or a finished Job's), none restarted; the migration ran
stack_checks() {
  local ns=$1
  expect "$ns: every pod Running and Ready, or Succeeded" sh -c "! '$K' -n $ns get pods --no-headers | \
    awk '{split(\$2, r, \"/\"); if (!((\$3 == \"Running\" && r[1] == r[2]) || \$3 == \"Completed\")) print}' | grep -q ."
  expect "$ns: no container restarted" sh -c "'$K' -n $ns get pods -o \
    jsonpath='{range .items[*].status.containerStatuses[*]}{.restartCount}{\"\\n\"}{end}' | grep -qvx 0 && exit 1 || exit 0"
  restarts "$ns"
  expect "$ns: the scheduler started on its health server's answer (HTTP probe, no exec)" sh -c "'$K' -n $ns get pods \
    -l app.kubernetes.io/component=scheduler -o jsonpath='{.items[0].spec.containers[?(@.name==\"scheduler\")].startupProbe.httpGet.port} \
{.items[0].status.containerStatuses[?(@.name==\"scheduler\")].started}' | grep -qx 'health true'"
  expect "$ns: the migration Job ran 'airflow db migrate' to the end" sh -c \
    "'$K' -n $ns logs job/airflow-run-airflow-migrations 2>&1 | grep -q 'Database migration done'"
}

# restarts NS: why each restarted container last ended, and what the kubelet said about its
# probes (nothing when none restarted)
restarts() {
  local ns=$1 pods
  pods=$("$K" -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{range .status.containerStatuses[*]}{.name}{"="}{.restartCount}{" "}{.lastState.terminated.reason}{"/"}{.lastState.terminated.exitCode}{" "}{end}{"\n"}{end}' |
    grep -E '=[1-9]') || return 0
  printf '%s\n' "$pods" | sed 's/^/#   restarted: /'
  for p in $(printf '%s\n' "$pods" | awk '{print $1}'); do
    "$K" -n "$ns" get events --field-selector "involvedObject.name=$p" \
      -o jsonpath='{range .items[*]}{.lastTimestamp}{" "}{.reason}{" "}{.message}{"\n"}{end}' |
      grep -E "Unhealthy|Killing|BackOff|OOM" | tail -8 | sed "s/^/#   $p: /"
  done
}

# old_pods_gone NS: the pods the upgrade replaced may still be terminating when tarmac
# returns (as after helm --wait or kubectl rollout status); what they went through is
# shown, then the checks wait for them to go so that they judge the new revision's pods
old_pods_gone() {
  local ns=$1 old t
  old=$("$K" -n "$ns" get pods -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{" "}{end}')
  [ -n "$old" ] || return 0
  note "still terminating after the upgrade: $old"
  restarts "$ns"
  t=$(now)
  for p in $old; do "$K" -n "$ns" wait --for=delete "pod/$p" --timeout=600s >/dev/null 2>&1; done
  note "gone after $(since "$t") s"
}

api_url() { echo "http://$("$K" -n "$1" get svc airflow-api-server -o jsonpath='{.spec.clusterIP}'):8080"; }

# api_token NS: a token the API server issues to the admin user the create-user Job made
api_token() {
  "$K" -n "$1" get secret airflow-admin-password -o jsonpath='{.data.password}' | base64 -d |
    python3 "$HERE/api.py" token "$(api_url "$1")" admin
}

# dag_run NS WHO HOST_PATTERN: the test DAG into the DAG volume, triggered through the REST
# API; its task must succeed on a host matching HOST_PATTERN
dag_run() {
  local ns=$1 who=$2 pattern=$3 pv out tok t
  pv=$("$K" get pv -o jsonpath="{range .items[?(@.spec.claimRef.namespace==\"$ns\")]}{.spec.claimRef.name} {.spec.hostPath.path}{\"\\n\"}{end}" |
    awk '$1 == "airflow-dags" {print $2}')
  expect "$ns: the DAG volume is a real directory on the node" test -d "$pv"
  [ -d "$pv" ] && cp "$HERE/dags/tarmac_check.py" "$pv/"
  t=$(now)
  tok=$(api_token "$ns") || { no "$ns: the API server issues a token to the admin user"; return; }
  ok "$ns: the API server issues a token to the admin user (it exists)"
  out=$(AIRFLOW_TOKEN=$tok python3 "$HERE/api.py" run "$(api_url "$ns")" tarmac_check 2>&1)
  printf '%s\n' "$out" | sed 's/^/#   /'
  expect "$ns: the DAG run succeeded ($(since "$t") s from the file to the end)" sh -c "printf '%s\n' '$out' | head -1 | grep -q ' success$'"
  expect "$ns: its task succeeded in a $who" sh -c "printf '%s\n' '$out' | awk '\$1 == \"where\" && \$2 == \"success\" {print \$3}' | grep -Eq '$pattern'"
}

psql_in() { "$K" -n "$1" exec "$2" -- psql -U airflow -d airflow -tAc "$3"; }

# a connection made through the API is stored encrypted with the cluster's Fernet key, and
# the scheduler, with the same key, reads it back
fernet_check() {
  local ns=$1 secret row got
  secret=fernet-check-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s' "$secret" | AIRFLOW_TOKEN=$(api_token "$ns") python3 "$HERE/api.py" connection "$(api_url "$ns")" tarmac_fernet
  row=$(psql_in "$ns" airflow-postgresql-0 "select is_encrypted, left(password, 6), password like '%$secret%' from connection where conn_id = 'tarmac_fernet'")
  expect "$ns: the connection's password is stored Fernet-encrypted ($row)" test "$row" = "t|gAAAAA|f"
  got=$("$K" -n "$ns" exec deploy/airflow-scheduler -c scheduler -- airflow connections get tarmac_fernet -o json 2>/dev/null |
    python3 -c 'import json,sys; t=sys.stdin.read(); print(json.loads(t[t.index("[{"):])[0]["password"])' 2>/dev/null)
  expect "$ns: the scheduler decrypts it with the key in the cluster" test "$got" = "$secret"
}

# a broken command in the triggerer: 'up' fails in the workloads phase with the container's
# exit code and its last lines, the Fernet key it printed blanked
broken_component() {
  local ns=$1 rc
  cat >"$WORK/broken.yaml" <<'EOF'
triggerer:
  command: [sh, -c]
  args: ['echo "starting with key $AIRFLOW__CORE__FERNET_KEY"; echo "tarmac-broken-marker" >&2; exit 3']
EOF
  "$BIN" -n "$ns" up --env dev -f "$WORK/images.yaml" -f "$WORK/values.yaml" -f "$WORK/broken.yaml" --phase-timeout workloads=90s \
    >"$WORK/broken.out" 2>"$WORK/broken.err"
  rc=$?
  sed -n '/^error:/,$p' "$WORK/broken.err" | sed 's/^/#   /'
  expect "a broken triggerer: up fails (exit 4, $rc)" [ "$rc" = 4 ]
  expect "in phase 'workloads', naming the triggerer" grep -q "phase 'workloads': wait for Deployment $ns/airflow-triggerer" "$WORK/broken.err"
  expect "with the container's exit code 3" grep -Eq "(last exit code|exited with code) 3" "$WORK/broken.err"
  expect "and its last log lines" grep -q "| tarmac-broken-marker" "$WORK/broken.err"
  expect "the Fernet key it printed is blanked" grep -q "| starting with key \[redacted\]" "$WORK/broken.err"
  local key
  key=$("$K" -n "$ns" get secret airflow-fernet-key -o jsonpath='{.data.fernet-key}' | base64 -d)
  expect "the key itself appears nowhere in tarmac's output" sh -c "! grep -qF -- '$key' '$WORK/broken.err' '$WORK/broken.out'"
}

# a PostgreSQL of our own image outside the release, as prod expects (data.metadataConnection),
# made the way a DBA would be asked to: with the password from prod's sealed secrets
external_database() {
  local ns=$1 pw
  "$BIN" secrets keygen --env prod >/dev/null 2>&1 && "$BIN" secrets init --env prod >/dev/null 2>&1
  pw=$("$BIN" secrets show db-password --reveal --env prod 2>/dev/null)
  expect "prod's sealed secrets hold the database password" test -n "$pw"
  "$K" create namespace "$ns" >/dev/null
  "$K" -n "$ns" create secret generic db --from-literal=password="$pw" >/dev/null
  "$K" -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: airflow-db}
spec:
  selector: {app: airflow-db}
  ports: [{port: 5432, targetPort: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: airflow-db}
spec:
  serviceName: airflow-db
  selector: {matchLabels: {app: airflow-db}}
  template:
    metadata: {labels: {app: airflow-db}}
    spec:
      securityContext: {runAsUser: 999, runAsGroup: 999}
      containers:
      - name: postgres
        image: $(awk '$1 == "postgres:" {gsub(/[{},"]/, ""); print $3 ":" $5}' "$WORK/images.yaml")
        env:
        - {name: POSTGRES_USER, value: airflow}
        - {name: POSTGRES_DB, value: airflow}
        - {name: PGDATA, value: /var/lib/postgresql/data/pgdata}
        - {name: POSTGRES_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
        readinessProbe: {exec: {command: [pg_isready, -U, airflow]}, periodSeconds: 3}
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
EOF
  expect "an external PostgreSQL is ready (kubectl rollout status)" "$K" -n "$ns" rollout status statefulset/airflow-db --timeout=180s
}

schema_version() {
  local pod
  pod=$("$K" -n af-db get pods -l app=airflow-db -o jsonpath='{.items[0].metadata.name}')
  psql_in af-db "$pod" "select version_num from alembic_version" 2>/dev/null
}

# The checks of 'check' (sourced): one function per image, each starting what it needs.

pg_sql() {  # pg_sql SQL: run SQL over TCP with password auth, in the postgres container
  exec_in pg env PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$1" -U "$PG_USER" -d "$PG_DB" -tAc "$2"
}
sql_is() { [ "$(pg_sql "$1" "$2")" = "$3" ]; }  # sql_is PORT SQL EXPECTED
wrong_password_refused() { ! PG_PASSWORD=wrong pg_sql "$PG_PORT" 'select 1'; }
uid_of() { awk '/^Uid:/{print $2}' "/proc/$(cat "$RUN/$1.pid")/status"; }

check_postgres() {
  install -d -o 999 -g 999 "$RUN/pgdata"
  bundle pg postgres 15 --user 999:999 --bind "$RUN/pgdata:/var/lib/postgresql/data" \
    --env "POSTGRES_USER=$PG_USER" --env "POSTGRES_PASSWORD=$PG_PASSWORD" --env "POSTGRES_DB=$PG_DB" \
    --env PGDATA=/var/lib/postgresql/data/pgdata \
    --args /usr/local/bin/tarmac-postgres-entrypoint postgres -p "$PG_PORT"
  local t0; t0=$(now)
  start pg
  expect "postgres: pg_isready -U $PG_USER passes (first start initialises PGDATA)" \
    wait_for 90 exec_in pg pg_isready -U "$PG_USER" -p "$PG_PORT"
  say "postgres ready $(since "$t0")s after start"
  expect "postgres: the server runs as uid 999" test "$(uid_of pg)" = 999
  expect "postgres: password login over TCP to database $PG_DB" sql_is "$PG_PORT" 'select current_user' "$PG_USER"
  expect "postgres: a wrong password is refused" wrong_password_refused
}

check_redis() {
  install -d -o 999 -g 999 "$RUN/redisdata"
  bundle redis redis 7.0 --user 999:999 --bind "$RUN/redisdata:/data" --env REDIS_PASSWORD=check-redis-pw \
    --args sh -c "exec redis-server --requirepass \"\$REDIS_PASSWORD\" --dir /data --port $REDIS_PORT --bind 127.0.0.1"
  start redis
  expect "redis: PING with requirepass answers PONG (the stack's probe)" wait_for 30 exec_in redis sh -c \
    "redis-cli -p $REDIS_PORT -a \"\$REDIS_PASSWORD\" --no-auth-warning ping | grep -q PONG"
  expect "redis: PING without the password is refused" exec_in redis sh -c "redis-cli -p $REDIS_PORT ping | grep -q NOAUTH"
}

pgbouncer_ini() {  # the stack's ini (bundle/templates/32-pgbouncer.yaml) with our ports, on 127.0.0.1
  cat <<INI
[databases]
check-metadata = host=127.0.0.1 dbname=$PG_DB port=$PG_PORT pool_size=5
check-fresh = host=127.0.0.1 dbname=fresh port=$PG_PORT pool_size=5
[pgbouncer]
pool_mode = transaction
listen_port = $PGB_PORT
listen_addr = 127.0.0.1
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/users/users.txt
stats_users = $PG_USER
ignore_startup_parameters = extra_float_digits
max_client_conn = 100
verbose = 0
log_disconnections = 0
log_connections = 0
server_tls_sslmode = prefer
server_tls_ciphers = normal
INI
}

check_pgbouncer() {
  mkdir -p "$RUN/pgb/users"
  pgbouncer_ini >"$RUN/pgb/pgbouncer.ini"
  printf '"%s" "%s"\n' "$PG_USER" "$PG_PASSWORD" >"$RUN/pgb/users/users.txt"
  chmod 0644 "$RUN/pgb/pgbouncer.ini" "$RUN/pgb/users/users.txt"
  bundle pgb pgbouncer 1.18 --user 65534:65534 --readonly \
    --bind "$RUN/pgb/pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro" --bind "$RUN/pgb/users:/etc/pgbouncer/users:ro" \
    ${PGB_EXTRA:-} --args pgbouncer /etc/pgbouncer/pgbouncer.ini
  start pgb
  if ! wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PGB_PORT"; then
    bad "pgbouncer: listens on $PGB_PORT with a read-only root, uid 65534 (log: $RUN/pgb.log)"
    tail -5 "$RUN/pgb.log" >&2
    return 0
  fi
  ok "pgbouncer: listens on $PGB_PORT with a read-only root, uid 65534"
  expect "pgbouncer: a query through the pool (scram-sha-256 to client and server)" \
    env PG_DB=check-metadata bash -c "$(declare -f sql_is pg_sql exec_in); $(declare -p STATE PG_USER PG_PASSWORD); sql_is $PGB_PORT 'select 42' 42"
}

check_exporter() {
  bundle pgbexp pgbouncer-exporter 0.10.2 --user 65534:65534 --readonly --args /usr/bin/pgbouncer_exporter \
    "--pgBouncer.connectionString=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PGB_PORT/pgbouncer?sslmode=disable" \
    "--web.listen-address=127.0.0.1:$EXPORTER_PORT"
  start pgbexp
  expect "pgbouncer-exporter: /metrics reports pgbouncer_up 1" wait_for 20 sh -c \
    "curl -fs http://127.0.0.1:$EXPORTER_PORT/metrics | grep -qx 'pgbouncer_up 1'"
}

airflow_run() {  # airflow_run ARGS...: a one-shot Airflow container with these process args
  configure af --args "$@"
  run_once af
}

check_airflow() {
  local conn="postgresql+psycopg2://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB" t0 out
  local ep=(/usr/bin/dumb-init -- /entrypoint)
  bundle af airflow "$AIRFLOW_TAG" --user 50000:0 --env "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$conn" \
    --env AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager \
    --env AIRFLOW__CORE__LOAD_EXAMPLES=False --env CONNECTION_CHECK_MAX_COUNT=0
  t0=$(now)
  out=$(airflow_run "${ep[@]}" airflow version 2>>"$RUN/checks.log" | tail -1)
  say "airflow version: '$out' in $(since "$t0")s (container start to exit)"
  expect "airflow: [airflow, version] prints $AIRFLOW_TAG" test "$out" = "$AIRFLOW_TAG"
  out=$(airflow_run "${ep[@]}" version 2>>"$RUN/checks.log" | tail -1)
  expect "airflow: a bare subcommand [version] works too" test "$out" = "$AIRFLOW_TAG"
  out=$(airflow_run "${ep[@]}" bash -c 'echo $(id -u):$(id -g):$HOME:$PWD:$AIRFLOW_HOME:$(command -v airflow)' 2>>"$RUN/checks.log")
  expect "airflow: uid 50000 gid 0, HOME /home/airflow, in /opt/airflow, airflow on PATH ($out)" \
    test "$out" = 50000:0:/home/airflow:/opt/airflow:/opt/airflow:/home/airflow/.local/bin/airflow
  configure af --env CONNECTION_CHECK_MAX_COUNT=20
  t0=$(now)
  expect "airflow: [airflow, db, migrate] against PostgreSQL" airflow_run "${ep[@]}" airflow db migrate
  say "airflow db migrate took $(since "$t0")s"
  expect "airflow: the schema is there (alembic_version has a row)" sql_is "$PG_PORT" 'select count(*) from alembic_version' 1
  expect "airflow: db check-migrations passes" airflow_run "${ep[@]}" airflow db check-migrations --migration-wait-timeout=60
  configure af --env USER_PASSWORD=check-admin-pw
  expect "airflow: [sh, -c, exec airflow users create ...] (FAB auth manager)" airflow_run sh -c \
    'exec airflow users create --username admin --role Admin --email admin@example.com --firstname A --lastname B --password "$USER_PASSWORD"'
  expect "airflow: users create again (the Job re-run by an upgrade) exits 0" airflow_run sh -c \
    'exec airflow users create --username admin --role Admin --email admin@example.com --firstname A --lastname B --password "$USER_PASSWORD"'
  expect "airflow: the admin user is in ab_user" sql_is "$PG_PORT" "select username from ab_user where username = 'admin'" admin
}

check_pause() {
  local pid st i
  bundle pause pause 3.2
  start pause
  pid=$(cat "$RUN/pause.pid")
  expect "pause: runs as uid 65535" wait_for 10 test "$(uid_of pause)" = 65535
  st=$(awk '{print $22}' "/proc/$pid/stat")
  kill -TERM "$pid"
  for i in $(seq 1 50); do [ "$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" = "$st" ] || break; sleep 0.1; done
  expect "pause: exits on SIGTERM within 5 s" test "$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" != "$st"
}

# check_upgrade TAG: the next Airflow image migrates the schema the first one made
check_upgrade() {
  local conn="postgresql+psycopg2://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB" before after t0
  local ep=(/usr/bin/dumb-init -- /entrypoint)
  before=$(pg_sql "$PG_PORT" 'select version_num from alembic_version')
  bundle af airflow "$1" --user 50000:0 --env "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$conn" \
    --env AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
  t0=$(now)
  expect "airflow $1: [airflow, db, migrate] upgrades the schema of $AIRFLOW_TAG" airflow_run "${ep[@]}" airflow db migrate
  say "upgrade migration took $(since "$t0")s"
  after=$(pg_sql "$PG_PORT" 'select version_num from alembic_version')
  expect "airflow $1: the schema revision moved ($before -> $after)" test "$before" != "$after"
  expect "airflow $1: the admin user survived" sql_is "$PG_PORT" "select username from ab_user where username = 'admin'" admin
}

# check_migrate_via_pgbouncer: what the stack does with pgbouncer.enabled: Airflow's
# connection goes to PgBouncer (transaction pooling, sslmode=disable); migrate a new database
check_migrate_via_pgbouncer() {
  local t0 ep=(/usr/bin/dumb-init -- /entrypoint)
  pg_sql "$PG_PORT" 'create database fresh' >/dev/null
  configure af --env "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://$PG_USER:$PG_PASSWORD@127.0.0.1:$PGB_PORT/check-fresh?sslmode=disable"
  t0=$(now)
  expect "airflow: [airflow, db, migrate] through PgBouncer (transaction pooling)" airflow_run "${ep[@]}" airflow db migrate
  say "migrate through PgBouncer took $(since "$t0")s"
  expect "airflow: the schema is in the database behind PgBouncer" \
    env PG_DB=fresh bash -c "$(declare -f sql_is pg_sql exec_in); $(declare -p STATE PG_USER PG_PASSWORD); sql_is $PG_PORT 'select count(*) from alembic_version' 1"
}

#!/usr/bin/env python3
"""Airflow's REST API as a user meets it, for the real-node tier (stdlib only).

  api.py token URL USER          password on stdin; prints an access token
  api.py run URL DAG_ID          waits for the DAG, unpauses it, triggers a run, waits for
                                 it to end; prints "RUN_ID STATE" then "TASK STATE HOST"
  api.py connection URL ID       password on stdin; creates a generic connection
The token comes from $AIRFLOW_TOKEN for run and connection. Errors go to stderr, exit 1.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def call(method, url, body=None, token=None, ok=(200, 201)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return e.code, None
        return e.code, e.read().decode(errors="replace")[:300]
    except OSError as e:
        return 0, str(e)


def die(msg):
    print("api.py: " + msg, file=sys.stderr)
    sys.exit(1)


def wait_for(what, fn, seconds):
    end = time.time() + seconds
    last = None
    while time.time() < end:
        done, last = fn()
        if done:
            return last
        time.sleep(3)
    die("%s: not within %d s (last: %s)" % (what, seconds, last))


def token(base, user):
    password = sys.stdin.read().strip()
    st, out = call("POST", base + "/auth/token", {"username": user, "password": password})
    if st not in (200, 201) or not isinstance(out, dict) or "access_token" not in out:
        die("POST /auth/token: %s %s" % (st, out))
    print(out["access_token"])


def run(base, dag):
    tok = os.environ["AIRFLOW_TOKEN"]
    api = base + "/api/v2/dags/" + dag
    wait_for("DAG %s parsed" % dag, lambda: (lambda r: (r[0] == 200, r))(call("GET", api, token=tok)), 300)
    st, out = call("PATCH", api, {"is_paused": False}, tok)
    if st != 200:
        die("unpause: %s %s" % (st, out))
    st, out = call("POST", api + "/dagRuns", {"logical_date": None}, tok)
    if st not in (200, 201) or not isinstance(out, dict):
        die("trigger: %s %s" % (st, out))
    rid = out["dag_run_id"]
    path = api + "/dagRuns/" + urllib.parse.quote(rid, safe="")

    def ended():
        st, out = call("GET", path, token=tok)
        state = out.get("state") if isinstance(out, dict) else None
        return state in ("success", "failed"), (st, state)

    state = wait_for("run %s" % rid, ended, 600)[1]
    print(rid, state)
    st, out = call("GET", path + "/taskInstances", token=tok)
    if st != 200 or not isinstance(out, dict):
        die("task instances: %s %s" % (st, out))
    for ti in out["task_instances"]:
        print(ti["task_id"], ti["state"], ti.get("hostname") or "-")


def connection(base, conn_id):
    password = sys.stdin.read().strip()
    body = {"connection_id": conn_id, "conn_type": "generic", "host": "example.internal", "password": password}
    st, out = call("POST", base + "/api/v2/connections", body, os.environ["AIRFLOW_TOKEN"])
    if st not in (200, 201):
        die("POST /api/v2/connections: %s %s" % (st, out))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("token", "run", "connection"):
        die("usage: api.py token|run|connection URL ARG")
    {"token": token, "run": run, "connection": connection}[sys.argv[1]](sys.argv[2].rstrip("/"), sys.argv[3])

"""Real Airflow judges a rendered stack: the scheduler's filesystem is laid out from its
volumeMounts, Airflow loads the configuration there, every option written is one Airflow
and its providers know, and the KubernetesExecutor's PodGenerator builds a task pod from
each template file at the path the configuration (or a task's executor_config) names.

usage: executor_check.py RENDER.yaml ROOT [RELEASE]   (run with the venv's python)
Prints one 'PASS name' or 'FAIL name: why' line per check.

The container's absolute paths live under ROOT: a mount at /opt/airflow/x is the file
ROOT/opt/airflow/x, and values in airflow.cfg that are absolute paths get the same ROOT
prefix (AIRFLOW_HOME and AIRFLOW_CONFIG point there too); nothing else is changed.
"""
import json
import os
import re
import subprocess
import sys

import yaml

# where DAG authors are told to find the task templates (bundle/values.yaml, docs)
TASK_TEMPLATES = {"default": None, "cpu": "/opt/airflow/pod_templates/cpu_intensive.yaml",
                  "gpu": "/opt/airflow/pod_templates/gpu.yaml"}


def report(ok, name, why=""):
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)


def find(objs, kind, name):
    return next((o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name), None)


def lay_out(objs, pod, container, root):
    """Writes what each volumeMount of container provides under root; returns problems."""
    problems, vols = [], {v["name"]: v for v in pod.get("volumes", [])}
    for m in container.get("volumeMounts", []):
        vol, dest = vols.get(m["name"]), root + m["mountPath"]
        if vol is None:
            problems.append("mount %s: no volume %r" % (m["mountPath"], m["name"]))
        elif "configMap" in vol:
            cm = find(objs, "ConfigMap", vol["configMap"]["name"])
            data = (cm or {}).get("data", {})
            files = {m["subPath"]: dest} if "subPath" in m else {k: os.path.join(dest, k) for k in data}
            for key, path in files.items():
                if key not in data:
                    problems.append("mount %s: ConfigMap %r has no key %r" % (m["mountPath"], vol["configMap"]["name"], key))
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(data[key])
        else:
            os.makedirs(dest, exist_ok=True)  # emptyDir, a claim: a directory filled at run time
    return problems


def prefix_paths(cfg_path, root):
    with open(cfg_path) as f:
        text = f.read()
    with open(cfg_path, "w") as f:
        f.write(re.sub(r"(?m)^(\s*\w+\s*=\s*)(/)", lambda m: m.group(1) + root + "/", text))


def airflow_env(container, root):
    """The container's environment; values from Secrets get stand-ins (no cluster here)."""
    from cryptography.fernet import Fernet
    stand_in = {"AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:///%s/airflow.db" % root,
                "AIRFLOW_CONN_AIRFLOW_DB": "sqlite:///%s/airflow.db" % root}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    for e in container.get("env", []):
        env[e["name"]] = e["value"] if "value" in e else stand_in.get(e["name"], "stand-in-" + e["name"].lower())
    env["AIRFLOW_HOME"] = root + "/opt/airflow"
    env["AIRFLOW_CONFIG"] = root + "/opt/airflow/airflow.cfg"
    return env


def parent(render, root, release):
    objs = [d for d in yaml.safe_load_all(open(render)) if d]
    dep = find(objs, "Deployment", release + "-scheduler")
    pod = dep["spec"]["template"]["spec"]
    sched = next(c for c in pod["containers"] if c["name"] == "scheduler")
    problems = lay_out(objs, pod, sched, root)
    report(not problems, "scheduler mounts laid out", "; ".join(problems))
    cfg = root + "/opt/airflow/airflow.cfg"
    if not os.path.isfile(cfg):
        report(False, "airflow.cfg mounted", "no file at /opt/airflow/airflow.cfg")
        return
    # options written by environment variable, in every container of the stack's pods
    specs = [o.get("spec", {}).get("template", {}).get("spec", {}) for o in objs]
    env_opts = sorted({e["name"] for p in specs for c in p.get("containers", []) + p.get("initContainers", [])
                       for e in c.get("env", []) if e["name"].startswith("AIRFLOW__")})
    prefix_paths(cfg, root)
    statsd = find(objs, "Service", release + "-statsd")
    facts = {"root": root, "release": release, "env_options": env_opts,
             "templates": sorted(find(objs, "ConfigMap", release + "-config")["data"]),
             "statsd_port": statsd and next(p["port"] for p in statsd["spec"]["ports"] if p["protocol"] == "UDP"),
             "rendered": {k: sorted(o["metadata"]["name"] for o in objs if o["kind"] == k)
                          for k in ("PersistentVolumeClaim", "ConfigMap", "ServiceAccount", "Secret")}}
    env = airflow_env(sched, root)
    env["EXECUTOR_CHECK_FACTS"] = json.dumps(facts)
    rc = subprocess.run([sys.executable, __file__, "--child"], env=env, timeout=300).returncode
    report(rc == 0, "airflow ran the checks", "exit %d" % rc)


def check(name, fn):
    try:
        why = fn()
    except Exception as e:  # a failure of Airflow itself is a finding too
        why = "%s: %s" % (type(e).__name__, e)
    report(not why, name, why)


def known_options(conf, facts):
    """Every [section] option of airflow.cfg and every AIRFLOW__S__O variable is known."""
    import configparser
    desc = conf.configuration_description  # core and every installed provider's
    cp = configparser.ConfigParser(strict=True, interpolation=None)  # a repeated key is an error
    cp.read(os.environ["AIRFLOW_CONFIG"])
    written = [(s, o) for s in cp.sections() for o in cp.options(s)]
    written += [tuple(v[len("AIRFLOW__"):].lower().split("__", 1)) for v in facts["env_options"]]
    unknown = ["[%s] %s" % so for so in written if so[1] not in desc.get(so[0], {}).get("options", {})]
    return "unknown to Airflow: " + ", ".join(unknown) if unknown else ""


def executors_load():
    from airflow.executors.executor_loader import ExecutorLoader
    for n in ExecutorLoader.get_executor_names():
        ExecutorLoader.import_executor_cls(n)
    return ""


def task_pod(facts, which, path):
    """The pod the KubernetesExecutor makes for a task whose executor_config names path."""
    from kubernetes.client import ApiClient
    from airflow.providers.cncf.kubernetes.executors.kubernetes_executor_utils import get_base_pod_from_template
    from airflow.providers.cncf.kubernetes.kube_config import KubeConfig
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

    kc = KubeConfig()
    if path is None and not kc.pod_template_file.startswith(facts["root"] + "/"):
        return "pod_template_file %r is not a path in the container" % kc.pod_template_file
    file = kc.pod_template_file if path is None else facts["root"] + path
    if not os.path.isfile(file):
        return "no file at %s in the scheduler container" % file[len(facts["root"]):]
    args = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"]
    pod = PodGenerator.construct_pod(
        dag_id="executor_check", task_id="t_" + which, run_id="manual__1", map_index=-1, pod_id="executor-check",
        try_number=1, kube_image=kc.kube_image, date=None, args=args,
        pod_override_object=None, base_worker_pod=get_base_pod_from_template(path and file, kc),
        namespace=kc.executor_namespace, scheduler_job_id="1")
    d = ApiClient().sanitize_for_serialization(pod)
    return pod_findings(facts, which, d, kc, args)


def pod_findings(facts, which, d, kc, args):
    spec, meta, r = d["spec"], d["metadata"], facts["rendered"]
    base = spec["containers"][0]
    want = {"base name": (base["name"], "base"), "image": (base["image"], kc.kube_image),
            "args": (base["args"], args), "namespace": (meta["namespace"], kc.executor_namespace),
            "task label": (meta["labels"].get("task_id"), "t_" + which),
            "component label": (meta["labels"].get("app.kubernetes.io/component"), "worker"),
            "restartPolicy": (spec["restartPolicy"], "Never")}
    bad = ["%s %r, not %r" % (k, got, exp) for k, (got, exp) in want.items() if got != exp]
    if not any(m["mountPath"] == "/opt/airflow/airflow.cfg" for m in base.get("volumeMounts", [])):
        bad.append("airflow.cfg not mounted")
    if spec.get("serviceAccountName") not in r["ServiceAccount"]:
        bad.append("ServiceAccount %r not rendered" % spec.get("serviceAccountName"))
    for v in spec.get("volumes", []):
        claim = v.get("persistentVolumeClaim", {}).get("claimName")
        cm = v.get("configMap", {}).get("name")
        if claim and claim not in r["PersistentVolumeClaim"]:
            bad.append("claim %r not rendered" % claim)
        if cm and cm not in r["ConfigMap"]:
            bad.append("ConfigMap %r not rendered" % cm)
    if which == "cpu" and spec.get("nodeSelector", {}).get("workload-type") != "compute":
        bad.append("not on compute nodes")
    if which == "gpu" and str(base["resources"]["limits"].get("nvidia.com/gpu")) != "1":
        bad.append("no GPU limit")
    return "; ".join(bad)


def metrics(conf, facts):
    """StatsD on exactly when its Service is rendered, and then sent to it."""
    on, port = conf.getboolean("metrics", "statsd_on"), facts["statsd_port"]
    if on != (port is not None):
        return "statsd_on is %s, the StatsD Service is %srendered" % (on, "" if port else "not ")
    got = on and (conf.get("metrics", "statsd_host"), conf.getint("metrics", "statsd_port"))
    return "sends to %s:%s, not %s-statsd:%s" % (got + (facts["release"], port)) if on and got != (
        facts["release"] + "-statsd", port) else ""


def child():
    facts = json.loads(os.environ["EXECUTOR_CHECK_FACTS"])
    from airflow.configuration import conf
    check("airflow.cfg options known to Airflow and its providers", lambda: known_options(conf, facts))
    check("[metrics] follows the StatsD Service", lambda: metrics(conf, facts))
    check("executors load", executors_load)
    if "KubernetesExecutor" not in conf.get("core", "executor"):
        return
    for which, path in TASK_TEMPLATES.items():
        if path and os.path.basename(path) not in facts["templates"]:
            continue  # switched off in the values
        check("task pod from the %s template" % which, lambda w=which, p=path: task_pod(facts, w, p))


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
        sys.exit(0)
    parent(sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "airflow")

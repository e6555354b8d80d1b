#!/usr/bin/env python3
"""amconfig.py RENDERED NAMESPACE: the alertmanager.yml prometheus-operator would make.

Reads the objects 'tarmac render' printed (file RENDERED), takes its AlertmanagerConfig
objects and prints, as YAML, the configuration the operator would hand Alertmanager for
them under a global configuration whose route sends everything to a "null" receiver.
This is our own emulation, written after the operator's conversion in
github.com/prometheus-operator/prometheus-operator, pkg/alertmanager/amcfg.go
(ConfigBuilder.AddAlertmanagerConfigs, convertRoute, convertInhibitRule, the
namespaceEnforcer and continueToNextRoute enforcers, makeNamespacedString) and
pkg/apis/monitoring/v1alpha1 (Matcher.String), for Alertmanager >= 0.22 (matchers):

- receivers, and the routes' receiver names, become '<namespace>/<name>/<receiver>';
- the CR's top route becomes the first child of the global route, with the matcher
  namespace="<namespace>" added and 'continue: true'; child routes keep their matchers;
- inhibit rules get namespace="<namespace>" added to source and target matchers;
- a matcher {name, value, matchType} is written as name<matchType>"value".

The Secrets the receivers name are not read: each secret reference becomes a
placeholder value of the right shape (Alertmanager checks URLs), since only the routing
and inhibition are under test.
"""
import sys

import yaml

# the CR's camelCase fields we render, and Alertmanager's names for them
FIELDS = {"sendResolved": "send_resolved", "apiURL": "api_url", "routingKey": "routing_key",
          "authUsername": "auth_username", "authPassword": "auth_password",
          "channel": "channel", "title": "title", "text": "text", "to": "to", "from": "from",
          "smarthost": "smarthost"}
CONFIGS = {"slackConfigs": "slack_configs", "pagerdutyConfigs": "pagerduty_configs",
           "emailConfigs": "email_configs"}
PLACEHOLDER = {"api_url": "https://hooks.slack.invalid/services/T/B/X",
               "routing_key": "0123456789abcdef0123456789abcdef",
               "auth_password": "placeholder"}


def matcher(m):
    value = m["value"].replace("\\", "\\\\").replace('"', '\\"')
    return '%s%s"%s"' % (m["name"], m.get("matchType", "="), value)


def named(name, ns, cr):
    return "%s/%s/%s" % (ns, cr, name) if name else ""


def route(r, ns, cr):
    out = {"receiver": named(r.get("receiver", ""), ns, cr)}
    for src, dst in (("groupBy", "group_by"), ("groupWait", "group_wait"),
                     ("groupInterval", "group_interval"), ("repeatInterval", "repeat_interval")):
        if src in r:
            out[dst] = r[src]
    if r.get("matchers"):
        out["matchers"] = [matcher(m) for m in r["matchers"]]
    if r.get("continue"):
        out["continue"] = True
    if r.get("routes"):
        out["routes"] = [route(c, ns, cr) for c in r["routes"]]
    return out


def receiver(r, ns, cr):
    out = {"name": named(r["name"], ns, cr)}
    for src, dst in CONFIGS.items():
        for c in r.get(src, []):
            conf = {}
            for k, v in c.items():
                if k not in FIELDS:
                    sys.exit("amconfig.py: receiver %r: field %r is not emulated" % (r["name"], k))
                key = FIELDS[k]
                conf[key] = PLACEHOLDER[key] if isinstance(v, dict) else v
            out.setdefault(dst, []).append(conf)
    return out


def main():
    rendered, ns = sys.argv[1], sys.argv[2]
    crs = [d for d in yaml.safe_load_all(open(rendered))
           if d and d.get("kind") == "AlertmanagerConfig"]
    if not crs:
        sys.exit("amconfig.py: no AlertmanagerConfig in %s" % rendered)
    cfg = {"route": {"receiver": "null", "group_by": ["alertname"], "routes": []},
           "receivers": [{"name": "null"}], "inhibit_rules": []}
    nsm = 'namespace="%s"' % ns
    for cr in sorted(crs, key=lambda d: d["metadata"]["name"]):
        name, spec = cr["metadata"]["name"], cr["spec"]
        for ir in spec.get("inhibitRules", []):
            rule = {"source_matchers": [matcher(m) for m in ir.get("sourceMatch", [])],
                    "target_matchers": [matcher(m) for m in ir.get("targetMatch", [])]}
            for k in ("source_matchers", "target_matchers"):
                if nsm not in rule[k]:
                    rule[k].append(nsm)
            if ir.get("equal"):
                rule["equal"] = ir["equal"]
            cfg["inhibit_rules"].append(rule)
        if spec.get("route"):
            top = route(spec["route"], ns, name)
            top["matchers"] = top.get("matchers", []) + [nsm]
            top["continue"] = True
            cfg["route"]["routes"].append(top)
        cfg["receivers"] += [receiver(r, ns, name) for r in spec.get("receivers", [])]
    yaml.safe_dump(cfg, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()

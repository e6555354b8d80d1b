#!/usr/bin/env python3
"""runc-bundle.py CONFIG.json: adjust the runtime config umoci unpack wrote, for 'check'.

Options (repeatable where it makes sense):
  --user UID:GID      process user (no extra groups)
  --args ARG...       replace process.args (everything after --args)
  --env K=V           add or replace an environment variable
  --readonly          read-only root filesystem
  --bind SRC:DST[:ro] bind mount from the host
  --tmpfs DST         a small writable tmpfs
Always: no terminal, the host's network namespace (containers meet on 127.0.0.1).
"""
import json
import sys


def main(argv):
    path, rest = argv[0], argv[1:]
    with open(path) as f:
        cfg = json.load(f)
    proc = cfg["process"]
    proc["terminal"] = False
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
    i = 0
    while i < len(rest):
        opt = rest[i]
        if opt == "--args":
            proc["args"] = rest[i + 1:]
            break
        val = rest[i + 1] if i + 1 < len(rest) else None
        if opt == "--user":
            uid, gid = val.split(":")
            proc["user"] = {"uid": int(uid), "gid": int(gid)}
        elif opt == "--env":
            key = val.split("=", 1)[0] + "="
            proc["env"] = [e for e in proc.get("env", []) if not e.startswith(key)] + [val]
        elif opt == "--readonly":
            cfg["root"]["readonly"] = True
            i += 1
            continue
        elif opt == "--bind":
            parts = val.split(":")
            opts = ["rbind", "ro" if parts[2:] == ["ro"] else "rw"]
            cfg["mounts"].append({"destination": parts[1], "type": "bind", "source": parts[0], "options": opts})
        elif opt == "--tmpfs":
            cfg["mounts"].append({"destination": val, "type": "tmpfs", "source": "tmpfs",
                                  "options": ["nosuid", "nodev", "mode=1777", "size=16m"]})
        else:
            sys.exit("runc-bundle.py: unknown option " + opt)
        i += 2
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])

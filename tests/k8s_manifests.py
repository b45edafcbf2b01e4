#!/usr/bin/env python3
# k8s_manifests.py - parse dist/k8s/*.yaml and compose.two.yml and assert the fields that matter; exits 1 with
# the list of what is wrong. Usage: tests/k8s_manifests.py [DIR] (default dist/k8s). Needs python3-yaml.
import os
import sys

import yaml

here = sys.argv[1] if len(sys.argv) > 1 else "dist/k8s"
bad = []


def check(cond, what):
    if not cond:
        bad.append(what)


docs = {}
for name in sorted(os.listdir(here)):
    if name.endswith(".yaml"):
        with open(os.path.join(here, name)) as f:
            for d in yaml.safe_load_all(f):
                if d:
                    docs[(d.get("kind"), d.get("metadata", {}).get("name"))] = d

ds = docs.get(("DaemonSet", "autopxe"))
check(ds is not None, "no DaemonSet autopxe")
if ds:
    pod = ds["spec"]["template"]["spec"]
    check(ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items(),
          "DaemonSet selector does not match its pod labels")
    check(pod.get("hostNetwork") is True, "hostNetwork is not true")
    check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy is not ClusterFirstWithHostNet")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "runAsNonRoot is not true")
    cs = pod["containers"]
    check(len(cs) == 1, "want one container")
    c = cs[0]
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check(caps.get("drop") == ["ALL"], "capabilities.drop is not [ALL]: %r" % caps.get("drop"))
    check(caps.get("add") == ["NET_BIND_SERVICE"], "capabilities.add is not [NET_BIND_SERVICE]: %r" % caps.get("add"))
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    check(sc.get("allowPrivilegeEscalation") is not False,
          "allowPrivilegeEscalation: false sets no_new_privs: the binary's file capability would be ignored")
    check(sc.get("privileged") in (None, False), "privileged container")
    for probe in ("livenessProbe", "readinessProbe"):
        p = c.get(probe, {}).get("httpGet", {})
        check(p.get("path") == "/healthz" and p.get("port") == 80, "%s is not GET /healthz on port 80: %r" % (probe, p))
    ports = {(p["containerPort"], p.get("protocol", "TCP")) for p in c.get("ports", [])}
    check((69, "UDP") in ports and (80, "TCP") in ports, "ports 69/udp and 80/tcp not declared: %r" % ports)
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    for name, v in vols.items():
        check(name in mounts, "volume %s is not mounted" % name)
    for name, m in mounts.items():
        check(name in vols, "mount %s has no volume" % name)
        check("subPath" not in m, "mount %s uses subPath: ConfigMap/Secret updates never reach it" % name)
    cfgv = vols.get("config", {})
    cm_name = cfgv.get("configMap", {}).get("name")
    check(cm_name is not None and ("ConfigMap", cm_name) in docs, "config volume is not a ConfigMap of this dir")
    check(mounts.get("config", {}).get("readOnly") is True, "config mount is not read-only")
    sec = vols.get("secret", {}).get("secret", {})
    check(("Secret", sec.get("secretName")) in docs, "secret volume is not a Secret of this dir")
    check(sec.get("defaultMode", 0o644) & 0o040, "the Secret's files are not readable by the pod's group (fsGroup)")
    rv = vols.get("rootfs", {})
    check("hostPath" in rv or "persistentVolumeClaim" in rv, "rootfs is neither a hostPath nor a PVC")
    check(mounts.get("rootfs", {}).get("readOnly") is True, "rootfs mount is not read-only")
    # every path the process writes is a volume (the root filesystem is read-only)
    for path in ("/tmp", "/var/cache/autopxe"):
        check(any(m["mountPath"] == path for m in mounts.values()), "%s is not a writable volume" % path)
    args = c.get("args", [])
    check("--config" in args, "no --config in args")
    if "--config" in args:
        cfg = args[args.index("--config") + 1]
        check(cfg.startswith(mounts.get("config", {}).get("mountPath", "?") + "/"), "--config is not in the ConfigMap mount")
    if cm_name and ("ConfigMap", cm_name) in docs:
        text = docs[("ConfigMap", cm_name)]["data"].get("config.yaml", "")
        conf = yaml.safe_load(text)
        check(conf.get("Watch") is True, "the ConfigMap's config does not have Watch: true")
        suf = conf.get("StateURLFile", "")
        check(suf.startswith(mounts.get("secret", {}).get("mountPath", "?") + "/"), "StateURLFile is not in the Secret mount")
        key = os.path.basename(suf)
        check(key in docs[("Secret", sec.get("secretName"))].get("stringData", {}), "the Secret has no %s" % key)
        tok = conf.get("APITokenFile", "")
        check(os.path.basename(tok) in docs[("Secret", sec.get("secretName"))].get("stringData", {}),
              "the Secret has no API token file %s" % tok)
        check(conf.get("CacheDir") == "/var/cache/autopxe", "CacheDir is not the emptyDir mount")

svc = docs.get(("Service", "autopxe"))
check(svc is not None, "no Service autopxe")
if svc and ds:
    check(svc["spec"]["selector"].items() <= ds["spec"]["template"]["metadata"]["labels"].items(),
          "the Service selects no autopxe pod")
    check(any(p["port"] == 80 for p in svc["spec"]["ports"]), "the Service has no port 80")

comp = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(here))), "compose.two.yml")
if os.path.exists(comp):
    with open(comp) as f:
        c2 = yaml.safe_load(f)
    s = c2.get("services", {})
    inst = [n for n, v in s.items() if "autopxe" in str(v.get("image", ""))]
    check(len(inst) == 2, "compose.two.yml: want two autopxe services, got %r" % inst)
    check(any("postgres" in str(v.get("image", "")) for v in s.values()), "compose.two.yml: no PostgreSQL")
    for n in inst:
        v = s[n]
        check(v.get("cap_drop") == ["ALL"] and v.get("cap_add") == ["NET_BIND_SERVICE"], "%s: capabilities" % n)
        check(v.get("read_only") is True, "%s: not read_only" % n)
    listens = [s[n]["command"][s[n]["command"].index("--http-listen") + 1] for n in inst]
    check(len(set(listens)) == len(listens), "compose.two.yml: the instances listen on the same address")
else:
    bad.append("no compose.two.yml beside dist/")

if bad:
    print("k8s manifests: %d problem(s):" % len(bad))
    for b in bad:
        print("  - " + b)
    sys.exit(1)
print("k8s manifests: ok (%d objects)" % len(docs))

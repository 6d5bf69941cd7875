#!/usr/bin/env python3
"""Reads deploy/kubernetes the way `kubectl kustomize` does, for deploy/test/*.sh.

The kustomizations use only `resources` (files and directories), `configMapGenerator`
(`files`) and `namespace`; this renders exactly that subset and refuses any other key, so a
kustomization that grows a feature this does not know fails loudly instead of being checked
wrongly. Generated ConfigMaps keep their plain names here (kustomize appends a content
hash); `compare` checks a real `kubectl kustomize` output against this rendering.

  manifests.py render DIR                 rendered YAML documents, to stdout
  manifests.py kustomizations ROOT        every directory holding a kustomization.yaml
  manifests.py check ROOT REPO            cross-checks; "ok - ..." / "FAIL - ..." lines
  manifests.py adapter-configs ROOT       the adapter TOML files that ConfigMaps are made of
  manifests.py compare DIR KUBECTL_YAML   kubectl's rendering equals ours (hashes aside)
  manifests.py app-command DIR CONTAINER  a container's command line (for `sh -c S`: S)
  manifests.py probe-paths DIR            the adapter's liveness and readiness paths
  manifests.py prometheus-yml SCRAPE_CFG [without-kubernetes-sd]
                                          a prometheus.yml embedding that scrape config
  manifests.py rehearsal-prometheus-yml SCRAPE_CFG [--namespace NS] DIR=PORT...
                                          the same, with Kubernetes discovery replaced by
                                          the targets it would find for these pods
  manifests.py podman-yaml DIR [OPTION...]
                                          the rendering, made fit for `podman kube play`
                                          on this machine (see cmd_podman_yaml)

Only PyYAML and the standard library (tomllib: Python >= 3.11).
"""

import json
import os
import re
import shlex
import sys
import tomllib

import yaml

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "configMapGenerator", "namespace"}
GENERATOR_KEYS = {"name", "files"}
ADAPTER_IMAGE = "ghcr.io/metrics-adapter/metrics-adapter"
ADAPTER_USER = 65532
# The adapter's defaults for the keys checked here (config.example.toml).
DEFAULT_LISTEN = "0.0.0.0:9898"
DEFAULT_METRICS_PATH = "/metrics"
SCRAPE_LABEL = ("metrics-adapter/scrape", "true")


class Rendered:
    """The objects of one kustomization, and which file each generated ConfigMap key is."""

    def __init__(self):
        self.objects = []
        self.origins = []  # the file each object came from, in step with objects
        self.generated = {}  # ConfigMap name -> {key: source file path}
        self.files = set()  # every file read (resources and generator files)


def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def render(directory, out=None):
    out = out or Rendered()
    kpath = os.path.join(directory, "kustomization.yaml")
    out.files.add(os.path.normpath(kpath))
    (k,) = load_yaml_docs(kpath)
    unknown = set(k) - KUSTOMIZATION_KEYS
    if unknown:
        raise ValueError(f"{kpath}: keys this renderer does not know: {sorted(unknown)}")
    if k.get("kind") != "Kustomization":
        raise ValueError(f"{kpath}: kind is {k.get('kind')!r}, not Kustomization")
    first = len(out.objects)
    for res in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, res))
        if os.path.isdir(path):
            render(path, out)
        else:
            out.files.add(path)
            docs = load_yaml_docs(path)
            out.objects.extend(docs)
            out.origins.extend([path] * len(docs))
    for gen in k.get("configMapGenerator", []):
        unknown = set(gen) - GENERATOR_KEYS
        if unknown:
            raise ValueError(f"{kpath}: configMapGenerator keys not known here: {sorted(unknown)}")
        data, sources = {}, {}
        for entry in gen["files"]:
            key, _, rel = entry.rpartition("=")
            path = os.path.normpath(os.path.join(directory, rel))
            key = key or os.path.basename(rel)
            with open(path) as f:
                data[key] = f.read()
            sources[key] = path
            out.files.add(path)
        out.objects.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data}
        )
        out.origins.append(os.path.normpath(kpath))
        out.generated[gen["name"]] = sources
    if "namespace" in k:
        for obj in out.objects[first:]:
            if obj["kind"] != "Namespace":
                obj["metadata"]["namespace"] = k["namespace"]
    return out


def kustomizations(root):
    return sorted(d for d, _, files in os.walk(root) if "kustomization.yaml" in files)


# ---- the pod template and its adapter container -------------------------------------------


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj.get("metadata", {}), obj["spec"]
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        t = obj["spec"]["template"]
        return t.get("metadata", {}), t["spec"]
    return None


def all_containers(spec):
    return [("initContainers", c) for c in spec.get("initContainers", [])] + [
        ("containers", c) for c in spec.get("containers", [])
    ]


def adapter_containers(spec):
    return [
        (where, c)
        for where, c in all_containers(spec)
        if c.get("image", "").split(":")[0] == ADAPTER_IMAGE
    ]


def config_arg(container):
    args = container.get("command", []) + container.get("args", [])
    for i, a in enumerate(args):
        if a in ("--config", "-c") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    for e in container.get("env", []):
        if e.get("name") == "METRICS_ADAPTER_CONFIG":
            return e.get("value")
    return None


def mount_for(container, path):
    """The volumeMount whose mountPath holds `path`, the longest one."""
    best = None
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    return best


def adapter_config_file(rendered, spec, container):
    """(ConfigMap name, key, source file) of the adapter's --config, or a reason string."""
    path = config_arg(container)
    if not path:
        return "no --config argument (or METRICS_ADAPTER_CONFIG)"
    m = mount_for(container, path)
    if not m:
        return f"--config {path} is on no volumeMount"
    vol = next((v for v in spec.get("volumes", []) if v["name"] == m["name"]), None)
    if not vol or "configMap" not in vol:
        return f"--config {path}: volume {m['name']!r} is not a configMap volume"
    cm = vol["configMap"]["name"]
    key = m.get("subPath") or os.path.relpath(path, m["mountPath"])
    if cm not in rendered.generated or key not in rendered.generated[cm]:
        return f"--config {path}: ConfigMap {cm!r} has no generated key {key!r}"
    return cm, key, rendered.generated[cm][key]


# ---- checks --------------------------------------------------------------------------------


class Checks:
    def __init__(self):
        self.failed = 0

    def __call__(self, ok, what, why=""):
        if ok:
            print(f"ok - {what}")
        else:
            self.failed += 1
            print(f"FAIL - {what}" + (f": {why}" if why else ""))
        return ok


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def check_workload(t, rendered, obj, cargo_version):
    name = f"{obj['kind']}/{obj['metadata']['name']}"
    meta, spec = pod_spec(obj)
    labels = meta.get("labels", {})
    ann = meta.get("annotations", {})
    if obj["kind"] != "Pod":
        sel = obj["spec"].get("selector", {}).get("matchLabels", {})
        t(sel and all(labels.get(k) == v for k, v in sel.items()),
          f"{name}: selector matches the pod template's labels", f"{sel} vs {labels}")
    t(labels.get(SCRAPE_LABEL[0]) == SCRAPE_LABEL[1],
      f"{name}: pod label {SCRAPE_LABEL[0]}: \"{SCRAPE_LABEL[1]}\" (PodMonitor selector)")

    adapters = adapter_containers(spec)
    if not t(len(adapters) == 1, f"{name}: exactly one adapter container ({ADAPTER_IMAGE})",
             f"found {len(adapters)}"):
        return
    where, c = adapters[0]
    cname = f"{name} adapter {c['name']!r}"
    if where == "initContainers":
        t(c.get("restartPolicy") == "Always",
          f"{cname}: an init container only as a native sidecar (restartPolicy: Always)")
    image_tag = c["image"].partition(":")[2]
    t(image_tag == cargo_version, f"{cname}: image tag is Cargo.toml's version {cargo_version}",
      c["image"])

    # Every container: the Pod Security "restricted" basics.
    pod_sc = spec.get("securityContext", {})
    for _, any_c in all_containers(spec):
        sc = {**pod_sc, **any_c.get("securityContext", {})}
        problems = []
        if sc.get("runAsNonRoot") is not True:
            problems.append("runAsNonRoot is not true")
        if sc.get("runAsUser") == 0:
            problems.append("runAsUser is 0")
        if any_c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation is not false")
        if any_c.get("securityContext", {}).get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append("capabilities.drop is not [ALL]")
        if sc.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append("no seccompProfile RuntimeDefault")
        t(not problems, f"{name} container {any_c['name']!r}: Pod Security 'restricted' basics",
          "; ".join(problems))
        mounts = {m["name"] for m in any_c.get("volumeMounts", [])}
        volumes = {v["name"] for v in spec.get("volumes", [])}
        t(mounts <= volumes, f"{name} container {any_c['name']!r}: every volumeMount has a volume",
          f"missing {sorted(mounts - volumes)}")

    sc = c.get("securityContext", {})
    want = {
        "runAsNonRoot": True,
        "runAsUser": ADAPTER_USER,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    wrong = {k: sc.get(k) for k, v in want.items() if sc.get(k) != v}
    t(not wrong, f"{cname}: securityContext (non-root 65532, read-only root, no privileges)",
      f"differs: {wrong}")

    res = c.get("resources", {})
    have = all(res.get(a, {}).get(b) for a in ("requests", "limits") for b in ("cpu", "memory"))
    t(have, f"{cname}: cpu and memory requests and limits", json.dumps(res))

    ports = {p.get("name"): p for p in c.get("ports", [])}
    metrics_port = ports.get("metrics", {}).get("containerPort")
    t(metrics_port is not None, f"{cname}: a container port named metrics")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        t(get.get("path") == path and get.get("port") in ("metrics", metrics_port),
          f"{cname}: {probe} GET {path} on port metrics", json.dumps(get))

    found = adapter_config_file(rendered, spec, c)
    if not t(isinstance(found, tuple), f"{cname}: --config is a file of a generated ConfigMap",
             found if isinstance(found, str) else ""):
        return
    cm, key, source_file = found
    with open(source_file, "rb") as f:
        cfg = tomllib.load(f)
    server = cfg.get("server", {})
    listen = server.get("listen", DEFAULT_LISTEN)
    metrics_path = server.get("metrics_path", DEFAULT_METRICS_PATH)
    t(port_of(listen) == metrics_port,
      f"{cname}: {os.path.relpath(source_file)} listens on the metrics port {metrics_port}",
      f"server.listen is {listen}")
    t(ann.get("prometheus.io/scrape") == "true", f"{name}: annotation prometheus.io/scrape: \"true\"")
    t(ann.get("prometheus.io/port") == str(metrics_port),
      f"{name}: annotation prometheus.io/port is the metrics port {metrics_port}",
      repr(ann.get("prometheus.io/port")))
    t(ann.get("prometheus.io/path") == metrics_path,
      f"{name}: annotation prometheus.io/path is server.metrics_path {metrics_path}",
      repr(ann.get("prometheus.io/path")))

    others = [oc for _, oc in all_containers(spec) if oc is not c]
    for sname, src in cfg.get("sources", {}).items():
        what = f"{cname}: source {sname} ({src.get('type')})"
        if src.get("type") == "file":
            path = src.get("path", "")
            m = mount_for(c, path)
            writers = [
                oc["name"] for oc in others
                if any(om["name"] == (m or {}).get("name") and not om.get("readOnly")
                       for om in oc.get("volumeMounts", []))
            ]
            t(m is not None and writers,
              f"{what}: {path} is on a volume another container writes", "no shared volume")
            t(m is None or m.get("readOnly") is True,
              f"{what}: the adapter mounts {m and m['mountPath']} read-only")
        elif src.get("type") in ("http", "tcp", "fastcgi"):
            address = src.get("url") or src.get("address") or ""
            hostport = re.sub(r"^[a-z]+://", "", address).split("/")[0]
            host, _, port = hostport.rpartition(":")
            t(host in ("127.0.0.1", "localhost", "[::1]"),
              f"{what}: reads the pod's loopback", address)
            declared = any(str(p.get("containerPort")) == port
                           for oc in others for p in oc.get("ports", []))
            in_conf = any(
                f"127.0.0.1:{port}" in value
                for oc in others for om in oc.get("volumeMounts", [])
                for v in spec.get("volumes", []) if v["name"] == om["name"] and "configMap" in v
                for value in next((o.get("data", {}) for o in rendered.objects
                                   if o["kind"] == "ConfigMap"
                                   and o["metadata"]["name"] == v["configMap"]["name"]), {}).values()
            )
            t(declared or in_conf,
              f"{what}: port {port} is another container's (a containerPort, or 127.0.0.1:{port} in its mounted config)")


def check_podmonitor(t, path, pod_labels):
    (pm,) = load_yaml_docs(path)
    rel = os.path.relpath(path)
    t(pm.get("apiVersion") == "monitoring.coreos.com/v1" and pm.get("kind") == "PodMonitor",
      f"{rel}: a monitoring.coreos.com/v1 PodMonitor")
    t(bool(pm.get("metadata", {}).get("name")), f"{rel}: has metadata.name")
    spec = pm.get("spec", {})
    known = {"selector", "podMetricsEndpoints", "namespaceSelector", "podTargetLabels", "jobLabel",
             "sampleLimit", "targetLimit", "labelLimit", "labelNameLengthLimit",
             "labelValueLengthLimit", "attachMetadata", "keepDroppedTargets", "scrapeProtocols"}
    t(set(spec) <= known, f"{rel}: spec has only PodMonitor fields", f"{sorted(set(spec) - known)}")
    sel = spec.get("selector", {}).get("matchLabels", {})
    t(bool(sel) and all(all(lbl.get(k) == v for k, v in sel.items()) for lbl in pod_labels),
      f"{rel}: selector matches all {len(pod_labels)} example pods", json.dumps(sel))
    eps = spec.get("podMetricsEndpoints", [])
    ep_known = {"port", "portNumber", "targetPort", "path", "scheme", "params", "interval",
                "scrapeTimeout", "honorLabels", "honorTimestamps", "trackTimestampsStaleness",
                "metricRelabelings", "relabelings", "proxyUrl", "followRedirects",
                "enableHttp2", "filterRunning", "basicAuth", "authorization", "oauth2",
                "tlsConfig", "bearerTokenSecret"}
    t(bool(eps), f"{rel}: has podMetricsEndpoints")
    for i, ep in enumerate(eps):
        t(set(ep) <= ep_known, f"{rel}: podMetricsEndpoints[{i}] has only known fields",
          f"{sorted(set(ep) - ep_known)}")
        t(ep.get("port") == "metrics", f"{rel}: podMetricsEndpoints[{i}] scrapes port metrics")
        t(ep.get("path", "/metrics") == DEFAULT_METRICS_PATH,
          f"{rel}: podMetricsEndpoints[{i}] path is /metrics")


def check_dockerfile(t, repo, cargo_version):
    path = os.path.join(repo, "Dockerfile")
    with open(path) as f:
        text = f.read()
    final = text[text.rfind("\nFROM "):]
    checks = [
        (r"FROM rust:1-bookworm AS build", text, "builder is rust:1-bookworm"),
        (r"--release --locked --target x86_64-unknown-linux-musl", text, "static musl release build"),
        (r"FROM gcr\.io/distroless/static-debian12:nonroot", final, "final stage is distroless/static nonroot"),
        (r"\nUSER 65532(:65532)?\n", final, "runs as 65532"),
        (r"\nEXPOSE 9898\n", final, "exposes 9898"),
        (r'\nENTRYPOINT \["/metrics-adapter"\]', final, "entrypoint /metrics-adapter"),
        (rf"\nARG VERSION={re.escape(cargo_version)}\n", final, f"VERSION defaults to {cargo_version}"),
    ]
    for pattern, where, what in checks:
        t(re.search(pattern, where), f"Dockerfile: {what}")
    for label in ("version", "source", "title", "description", "licenses"):
        t(f"org.opencontainers.image.{label}=" in final, f"Dockerfile: OCI label {label}")
    check_offline_containerfile(t, repo, final)


def runtime_settings(final_stage):
    """The instructions that shape the running image, with continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", final_stage)
    keep = ("USER ", "EXPOSE ", "ENTRYPOINT ", "CMD ", "ARG ", "LABEL ", "ENV ", "WORKDIR ", "STOPSIGNAL ")
    return sorted(line.strip() for line in text.splitlines() if line.startswith(keep))


def check_offline_containerfile(t, repo, dockerfile_final):
    """Containerfile.offline (FROM scratch, no registry) must give the image the Dockerfile's
    runtime stage gives: the same user, port, entrypoint, version and labels."""
    path = os.path.join(repo, "Containerfile.offline")
    if not t(os.path.exists(path), "Containerfile.offline exists"):
        return
    with open(path) as f:
        text = f.read()
    final = text[text.rfind("\nFROM "):]
    t(re.search(r"\nFROM scratch\n", final), "Containerfile.offline: FROM scratch")
    ours, theirs = runtime_settings(final), runtime_settings(dockerfile_final)
    t(ours == theirs, "Containerfile.offline: user, port, entrypoint, ARGs and labels as the Dockerfile's",
      f"only in Containerfile.offline: {sorted(set(ours) - set(theirs))}; "
      f"only in Dockerfile: {sorted(set(theirs) - set(ours))}")
    t(re.search(r"\nCOPY metrics-adapter /metrics-adapter\n", final),
      "Containerfile.offline: the binary at /metrics-adapter")


def cmd_check(root, repo):
    t = Checks()
    with open(os.path.join(repo, "Cargo.toml"), "rb") as f:
        cargo_version = tomllib.load(f)["package"]["version"]
    used = set()
    pod_labels = []
    for d in kustomizations(root):
        rel = os.path.relpath(d)
        try:
            rendered = render(d)
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            t(False, f"{rel}: renders", str(e))
            continue
        t(True, f"{rel}: renders ({len(rendered.objects)} objects)")
        used |= rendered.files
        ids = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
               for o in rendered.objects]
        t(len(ids) == len(set(ids)), f"{rel}: object names are unique",
          f"{sorted(i for i in ids if ids.count(i) > 1)}")
        cms = {o["metadata"]["name"] for o in rendered.objects if o["kind"] == "ConfigMap"}
        for obj, origin in zip(rendered.objects, rendered.origins):
            ps = pod_spec(obj)
            if not ps:
                continue
            for v in ps[1].get("volumes", []):
                if "configMap" in v:
                    t(v["configMap"]["name"] in cms,
                      f"{rel}: {obj['metadata']['name']} volume {v['name']!r} names a ConfigMap here",
                      v["configMap"]["name"])
            # Each workload once: in the kustomization whose directory holds its file.
            if os.path.dirname(origin) == os.path.normpath(d):
                check_workload(t, rendered, obj, cargo_version)
                pod_labels.append(pod_spec(obj)[0].get("labels", {}))
    for d, _, files in os.walk(root):
        for f in files:
            path = os.path.normpath(os.path.join(d, f))
            if f.endswith((".yaml", ".yml", ".toml", ".conf")) and path not in used:
                t(False, f"{os.path.relpath(path)}: used by a kustomization", "orphan file")
    prom = os.path.join(os.path.dirname(os.path.normpath(root)), "prometheus", "podmonitor.yaml")
    check_podmonitor(t, prom, pod_labels)
    check_dockerfile(t, repo, cargo_version)
    return 1 if t.failed else 0


# ---- helpers for the shell scripts ---------------------------------------------------------


def cmd_adapter_configs(root):
    found = set()
    for d in kustomizations(root):
        rendered = render(d)
        for obj in rendered.objects:
            ps = pod_spec(obj)
            for _, c in adapter_containers(ps[1]) if ps else []:
                r = adapter_config_file(rendered, ps[1], c)
                if isinstance(r, tuple):
                    found.add(os.path.relpath(r[2]))
    print("\n".join(sorted(found)))


def cmd_compare(directory, kubectl_yaml):
    ours = render(directory)
    text = open(kubectl_yaml).read()
    for name in ours.generated:  # kustomize's NAME-<10 char hash> back to NAME
        text = re.sub(rf"\b{re.escape(name)}-[a-z0-9]{{10}}\b", name, text)
    theirs = [d for d in yaml.safe_load_all(text) if d is not None]
    canon = lambda docs: sorted(json.dumps(d, sort_keys=True) for d in docs)  # noqa: E731
    if canon(ours.objects) == canon(theirs):
        return 0
    a, b = set(canon(ours.objects)), set(canon(theirs))
    for d in sorted(a - b):
        print(f"  only in ours:    {d[:300]}")
    for d in sorted(b - a):
        print(f"  only in kubectl: {d[:300]}")
    return 1


def workload(directory):
    return next(o for o in render(directory).objects if pod_spec(o))


def cmd_app_command(directory, container):
    _, spec = pod_spec(workload(directory))
    c = next(c for _, c in all_containers(spec) if c["name"] == container)
    cmd = c.get("command", []) + c.get("args", [])
    if cmd[:2] == ["sh", "-c"] and len(cmd) == 3:
        print(cmd[2])  # the script itself, to run with sh -c
    else:
        print(shlex.join(cmd))


def cmd_probe_paths(directory):
    _, spec = pod_spec(workload(directory))
    ((_, c),) = adapter_containers(spec)
    print(c["livenessProbe"]["httpGet"]["path"], c["readinessProbe"]["httpGet"]["path"])


KUBERNETES_SD_KEYS = {
    "api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata",
    "basic_auth", "authorization", "oauth2", "proxy_url", "no_proxy", "proxy_from_environment",
    "proxy_connect_header", "follow_redirects", "enable_http2", "tls_config",
}
KUBERNETES_SD_ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}


def cmd_prometheus_yml(scrape_config, mode="full"):
    """mode "full": the jobs as they are. "without-kubernetes-sd": for a promtool built
    without Kubernetes discovery (Debian's): each kubernetes_sd_configs block is checked
    here (known keys, a valid role) and replaced by an empty static_configs."""
    with open(scrape_config) as f:
        cfg = yaml.safe_load(f)
    jobs = cfg["scrape_configs"]
    if mode == "without-kubernetes-sd":
        for job in jobs:
            for sd in job.pop("kubernetes_sd_configs", []):
                unknown = set(sd) - KUBERNETES_SD_KEYS
                if unknown or sd.get("role") not in KUBERNETES_SD_ROLES:
                    sys.exit(f"{scrape_config}: job {job['job_name']}: kubernetes_sd_configs: "
                             f"unknown keys {sorted(unknown)} or role {sd.get('role')!r}")
                job.setdefault("static_configs", [])
    doc = {"global": {"scrape_interval": "30s", "evaluation_interval": "30s"}, "scrape_configs": jobs}
    print(yaml.safe_dump(doc, sort_keys=False), end="")


def sanitize(name):
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def discovered_targets(directory, port, pod_ip="127.0.0.1", namespace="rehearsal"):
    """What Prometheus' Kubernetes discovery (role: pod) finds for the example's pod: one
    target per declared container port, one port-less target per container without ports,
    each with the pod's __meta_kubernetes_* labels. The adapter's port is `port` (where the
    rehearsal runs it), in the container port and in the prometheus.io/port annotation."""
    obj = workload(directory)
    meta, spec = pod_spec(obj)
    pod = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": f"{obj['metadata']['name']}-{namespace}",
        "__meta_kubernetes_pod_ip": pod_ip,
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_ready": "true",
        "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
        "__meta_kubernetes_pod_controller_name": f"{obj['metadata']['name']}-{namespace}",
    }
    for k, v in meta.get("labels", {}).items():
        pod[f"__meta_kubernetes_pod_label_{sanitize(k)}"] = v
        pod[f"__meta_kubernetes_pod_labelpresent_{sanitize(k)}"] = "true"
    adapter = adapter_containers(spec)[0][1]
    metrics_port = next(p["containerPort"] for p in adapter["ports"] if p["name"] == "metrics")
    for k, v in meta.get("annotations", {}).items():
        if k == "prometheus.io/port" and v == str(metrics_port):
            v = str(port)
        pod[f"__meta_kubernetes_pod_annotation_{sanitize(k)}"] = v
        pod[f"__meta_kubernetes_pod_annotationpresent_{sanitize(k)}"] = "true"
    groups = []
    for where, c in all_containers(spec):
        labels = {
            **pod,
            "__meta_kubernetes_pod_container_name": c["name"],
            "__meta_kubernetes_pod_container_image": c["image"],
            "__meta_kubernetes_pod_container_init": str(where == "initContainers").lower(),
        }
        for p in c.get("ports", []) or [None]:
            target_labels = dict(labels)
            if p is None:
                address = pod_ip
            else:
                number = port if c is adapter and p["containerPort"] == metrics_port else p["containerPort"]
                address = f"{pod_ip}:{number}"
                target_labels.update({
                    "__meta_kubernetes_pod_container_port_name": p.get("name", ""),
                    "__meta_kubernetes_pod_container_port_number": str(number),
                    "__meta_kubernetes_pod_container_port_protocol": p.get("protocol", "TCP"),
                })
            groups.append({"targets": [address], "labels": target_labels})
    return groups


def cmd_rehearsal_prometheus_yml(scrape_config, *pods):
    namespace = "rehearsal"
    if pods[:1] == ("--namespace",):
        namespace, pods = pods[1], pods[2:]
    with open(scrape_config) as f:
        (job,) = yaml.safe_load(f)["scrape_configs"]
    del job["kubernetes_sd_configs"]
    job["scrape_interval"] = "1s"
    job["scrape_timeout"] = "1s"
    groups = []
    for arg in pods:
        directory, _, port = arg.rpartition("=")
        groups += discovered_targets(directory, int(port), namespace=namespace)
    # Pods the job must not scrape: one without the annotations, one that has finished.
    directory, _, port = pods[0].rpartition("=")
    decoy = discovered_targets(directory, int(port), namespace=namespace)
    for g in decoy:
        unannotated = {k: v for k, v in g["labels"].items() if "annotation" not in k}
        unannotated["__meta_kubernetes_pod_name"] = f"unannotated-{namespace}"
        finished = {**g["labels"], "__meta_kubernetes_pod_phase": "Succeeded",
                    "__meta_kubernetes_pod_name": f"finished-{namespace}"}
        groups += [{"targets": g["targets"], "labels": unannotated},
                   {"targets": g["targets"], "labels": finished}]
    job["static_configs"] = groups
    doc = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": [job]}
    print(yaml.safe_dump(doc, sort_keys=False), end="")


def cmd_podman_yaml(directory, *options):
    """The example's objects for `podman kube play` on a machine without a registry:

      image:OLD=NEW     run image NEW where the manifests say OLD; every container's image
                        must be mapped (an image the test did not build would be pulled)
      port:NAME=PORT    publish the container port NAME on 127.0.0.1:PORT; every declared
                        port must be mapped, because podman publishes a port without
                        hostPort on 0.0.0.0, on the same number, on the host
      suffix:S          append S to the workload's and every ConfigMap's name (podman keeps
                        a configMap volume under the ConfigMap's name: a variant must not
                        share it with the original)
      append-config:T   append the line T to the adapter's config file in its ConfigMap

    Images get imagePullPolicy Never, so a missing one fails at once instead of a pull.
    Everything else is the rendering as it is."""
    images, ports, suffix, appended = {}, {}, "", []
    for opt in options:
        kind, _, value = opt.partition(":")
        if kind == "image":
            old, _, new = value.partition("=")
            images[old] = new
        elif kind == "port":
            name, _, port = value.partition("=")
            ports[name] = int(port)
        elif kind == "suffix":
            suffix = value
        elif kind == "append-config":
            appended.append(value)
        else:
            sys.exit(f"podman-yaml: unknown option {opt!r}")
    rendered = render(directory)
    (obj,) = [o for o in rendered.objects if pod_spec(o)]
    _, spec = pod_spec(obj)
    if appended:  # before the images change: the adapter is found by its image
        ((_, adapter),) = adapter_containers(spec)
        cm_name, key, _ = adapter_config_file(rendered, spec, adapter)
        cm = next(o for o in rendered.objects
                  if o["kind"] == "ConfigMap" and o["metadata"]["name"] == cm_name)
        cm["data"][key] += "".join(line + "\n" for line in appended)
    for _, c in all_containers(spec):
        if c["image"] not in images:
            sys.exit(f"podman-yaml: {directory}: container {c['name']}: no local image for {c['image']}")
        c["image"] = images[c["image"]]
        c["imagePullPolicy"] = "Never"
        for p in c.get("ports", []):
            if p.get("name") not in ports:
                sys.exit(f"podman-yaml: {directory}: container {c['name']}: port {p.get('name')!r} "
                         "has no host port (podman would publish it on 0.0.0.0)")
            p["hostIP"] = "127.0.0.1"
            p["hostPort"] = ports[p["name"]]
    if suffix:
        obj["metadata"]["name"] += suffix
        for o in rendered.objects:
            if o["kind"] == "ConfigMap":
                o["metadata"]["name"] += suffix
        for v in spec.get("volumes", []):
            if "configMap" in v:
                v["configMap"]["name"] += suffix
    print(yaml.safe_dump_all(rendered.objects, sort_keys=False), end="")


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "render":
        print(yaml.safe_dump_all(render(args[0]).objects, sort_keys=False), end="")
        return 0
    if cmd == "kustomizations":
        print("\n".join(os.path.relpath(d) for d in kustomizations(args[0])))
        return 0
    handlers = {
        "check": cmd_check,
        "adapter-configs": cmd_adapter_configs,
        "compare": cmd_compare,
        "app-command": cmd_app_command,
        "probe-paths": cmd_probe_paths,
        "prometheus-yml": cmd_prometheus_yml,
        "rehearsal-prometheus-yml": cmd_rehearsal_prometheus_yml,
        "podman-yaml": cmd_podman_yaml,
    }
    return handlers[cmd](*args) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

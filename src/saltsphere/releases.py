"""Which releases go together: the pairing tables every part of saltsphere reads.

For each Kubernetes minor: the versions kubeadm expects (pause, CoreDNS,
etcd), the container runtime and tools that serve it, and the calico release
tested against it.  The bill of materials (``saltsphere.bom``) turns these
into URLs and image references; nothing else keeps a version of its own.
"""

import re
from dataclasses import asdict, dataclass, fields

from saltsphere.artifacts.errors import ArtifactError

_KUBE_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_KUBE_MINOR = re.compile(r"^v?(\d+)\.(\d+)(?:\.|$)")
_COMPONENT_VERSION = re.compile(r"^v?(\d+(?:\.\d+)+(?:-[0-9A-Za-z.]+)?)$")


@dataclass(frozen=True)
class Versions:
    """What goes with one Kubernetes release: image tags as kubeadm names them, other versions without 'v'."""

    pause: str
    coredns: str
    etcd: str
    containerd: str
    runc: str
    crictl: str
    cni: str


COMPONENTS = tuple(f.name for f in fields(Versions))
OVERRIDE_FLAGS = {component: f"--{component}-version" for component in COMPONENTS}

# pause and CoreDNS are what `kubeadm config images list` prints for the newest patch release of each minor.
# etcd runs outside kubeadm's static pods, so it only has to pass kubeadm's external etcd version check: it
# is the newest etcd the minor's kubeadm names, which every patch release of that minor accepts.
# containerd 1.6 (with runc 1.1) still serves the CRI v1alpha2 API that kubelets before 1.26 may ask for;
# from 1.26 on the kubelet speaks CRI v1 only and gets containerd 1.7 with runc 1.2.
VERSION_TABLE = {
    (1, 20): Versions("3.2", "1.7.0", "3.4.13", "1.6.33", "1.1.12", "1.20.0", "1.1.1"),
    (1, 21): Versions("3.4.1", "v1.8.0", "3.4.13", "1.6.33", "1.1.12", "1.21.0", "1.1.1"),
    (1, 22): Versions("3.5", "v1.8.4", "3.5.6", "1.6.33", "1.1.12", "1.22.0", "1.1.1"),
    (1, 23): Versions("3.6", "v1.8.6", "3.5.6", "1.6.33", "1.1.12", "1.23.0", "1.1.1"),
    (1, 24): Versions("3.7", "v1.8.6", "3.5.6", "1.6.33", "1.1.12", "1.24.0", "1.1.1"),
    (1, 25): Versions("3.8", "v1.9.3", "3.5.9", "1.6.33", "1.1.12", "1.25.0", "1.1.1"),
    (1, 26): Versions("3.9", "v1.9.3", "3.5.10", "1.7.27", "1.2.6", "1.26.0", "1.4.0"),
    (1, 27): Versions("3.9", "v1.10.1", "3.5.12", "1.7.27", "1.2.6", "1.27.0", "1.4.0"),
    (1, 28): Versions("3.9", "v1.10.1", "3.5.15", "1.7.27", "1.2.6", "1.28.0", "1.4.0"),
    (1, 29): Versions("3.9", "v1.11.1", "3.5.16", "1.7.27", "1.2.6", "1.29.0", "1.4.0"),
    (1, 30): Versions("3.9", "v1.11.3", "3.5.16", "1.7.27", "1.2.6", "1.30.0", "1.4.0"),
    (1, 31): Versions("3.10", "v1.11.3", "3.5.24", "1.7.27", "1.2.6", "1.31.0", "1.4.0"),
    (1, 32): Versions("3.10", "v1.11.3", "3.5.24", "1.7.27", "1.2.6", "1.32.0", "1.4.0"),
}
# kubeadm moved to a newer CoreDNS inside these minors: before the given patch release it asks for the older tag.
_EARLIER_COREDNS = {(1, 30): (5, "v1.11.1"), (1, 31): (1, "v1.11.1")}
# kubeadm's default imageRepository became registry.k8s.io in 1.25, and in these patch releases of older minors.
_REGISTRY_K8S_IO_SINCE = {(1, 22): 17, (1, 23): 15, (1, 24): 9}


def parse_kube_version(text: str) -> tuple:
    match = _KUBE_VERSION.match(text or "")
    if not match:
        raise ArtifactError(f"--kube-version {text!r} must be a release like v1.28.4 (with the leading 'v')")
    return tuple(int(part) for part in match.groups())


def image_registry(kube_version: str) -> str:
    """The registry kubeadm of ``kube_version`` pulls its images from unless told otherwise."""
    major, minor, patch = parse_kube_version(kube_version)
    since = _REGISTRY_K8S_IO_SINCE.get((major, minor))
    if (major, minor) >= (1, 25) or (since is not None and patch >= since):
        return "registry.k8s.io"
    return "k8s.gcr.io"


def resolve_versions(kube_version: str, overrides: dict | None = None) -> Versions:
    """The table's versions for ``kube_version``, with every non-empty override in ``overrides`` taking its place."""
    major, minor, patch = parse_kube_version(kube_version)
    chosen = {component: value for component, value in (overrides or {}).items() if value}
    values = {}
    base = VERSION_TABLE.get((major, minor))
    if base is None:
        missing = [OVERRIDE_FLAGS[component] for component in COMPONENTS if component not in chosen]
        if missing:
            known = sorted(VERSION_TABLE)
            raise ArtifactError(
                f"Kubernetes {major}.{minor} is not in saltsphere's version table, which covers "
                f"{'.'.join(map(str, known[0]))} to {'.'.join(map(str, known[-1]))}; choose a supported "
                f"--kube-version, or give {', '.join(missing)} (`kubeadm config images list` names the pause "
                "and CoreDNS versions a kubeadm expects)"
            )
    else:
        values = asdict(base)
        earlier = _EARLIER_COREDNS.get((major, minor))
        if earlier and patch < earlier[0]:
            values["coredns"] = earlier[1]
    for component, value in chosen.items():
        match = _COMPONENT_VERSION.match(value)
        if not match:
            raise ArtifactError(f"{OVERRIDE_FLAGS[component]} {value!r} is not a version like 1.2.3")
        bare = match.group(1)
        # CoreDNS images are tagged with a 'v' since the move to coredns/coredns in kubeadm 1.21.
        values[component] = f"v{bare}" if component == "coredns" and (major, minor) >= (1, 21) else bare
    return Versions(**values)


# The calico release saltsphere pairs with each Kubernetes minor: the newest release in CALICO_TESTED whose
# list holds that minor, but for 1.20, which keeps v3.17.6 because v3.17's are the objects calico.py builds
# (v3.17's own list stops at 1.19; the first release tested against 1.20 is v3.18).
CALICO = {
    (1, 20): "v3.17.6",
    (1, 21): "v3.23.5",
    (1, 22): "v3.24.5",
    (1, 23): "v3.25.0",
    (1, 24): "v3.26.1",
    (1, 25): "v3.26.1",
    (1, 26): "v3.26.1",
    (1, 27): "v3.28.2",
    (1, 28): "v3.28.2",
    (1, 29): "v3.29.1",
    (1, 30): "v3.29.1",
    (1, 31): "v3.29.1",
    (1, 32): "v3.29.1",
}
CALICO_EXCEPTIONS = {(1, 20)}
# Calico's support matrix: the Kubernetes minors each release is tested against, as its "System requirements"
# page says under "Supported versions" (https://docs.tigera.io/calico/<series>/getting-started/kubernetes/
# requirements; https://docs.tigera.io/archive/<series>/... before v3.25).  v3.25's list grew to 1.28 after its
# release; v3.29's page listed 1.29 to 1.31 at first and 1.32 since.  The table stops at v3.29.
CALICO_TESTED = {
    "v3.17": ((1, 17), (1, 18), (1, 19)),
    "v3.18": ((1, 18), (1, 19), (1, 20)),
    "v3.19": ((1, 19), (1, 20), (1, 21)),
    "v3.20": ((1, 19), (1, 20), (1, 21)),
    "v3.21": ((1, 20), (1, 21), (1, 22)),
    "v3.22": ((1, 21), (1, 22), (1, 23)),
    "v3.23": ((1, 21), (1, 22), (1, 23)),
    "v3.24": ((1, 22), (1, 23), (1, 24), (1, 25)),
    "v3.25": ((1, 23), (1, 24), (1, 25), (1, 26), (1, 27), (1, 28)),
    "v3.26": ((1, 24), (1, 25), (1, 26), (1, 27), (1, 28)),
    "v3.28": ((1, 27), (1, 28), (1, 29), (1, 30)),
    "v3.29": ((1, 29), (1, 30), (1, 31), (1, 32)),
}


def kube_minor(kube_version: str):
    """``(major, minor)`` of ``kube_version`` (``v1.20.2``, ``1.20``), or None when it names no release."""
    match = _KUBE_MINOR.match(kube_version or "")
    return tuple(int(part) for part in match.groups()) if match else None


def calico_version(kube_version: str) -> str | None:
    """The calico release paired with ``kube_version``'s minor, or None when there is none."""
    return CALICO.get(kube_minor(kube_version))


def supported_minors() -> list:
    """The Kubernetes minors the version table covers, oldest first."""
    return sorted(VERSION_TABLE)


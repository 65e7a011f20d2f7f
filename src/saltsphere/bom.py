"""The bill of materials: everything a cluster takes from its bundle, worked out in one place.

From a cluster's vars (``vars.yml`` over the defaults), the number of its
masters and the release tables (``saltsphere.releases``) come the binaries
(with the URL and published checksum of each), the images (by the reference
containerd stores them under) and the packages.  ``artifact fetch`` downloads
this list, preflight checks the bundle against it, the installer and the
pillar name what the bundle lacks from it.
"""

import dataclasses
import urllib.parse
from dataclasses import dataclass
from pathlib import PurePosixPath

from saltsphere import calico, kubesphere, releases, storage
from saltsphere.inventory import MASTER

K8S_RELEASE = "https://dl.k8s.io/release"
ETCD_RELEASES = "https://github.com/etcd-io/etcd/releases/download"
CONTAINERD_RELEASES = "https://github.com/containerd/containerd/releases/download"
RUNC_RELEASES = "https://github.com/opencontainers/runc/releases/download"
CRICTL_RELEASES = "https://github.com/kubernetes-sigs/cri-tools/releases/download"
CNI_RELEASES = "https://github.com/containernetworking/plugins/releases/download"

# Every bundle carries these three, built or fetched; the rest of the binaries a built bundle takes from packages.
KUBE_BINARIES = ("kubeadm", "kubelet", "kubectl")
CONTROL_PLANE_IMAGES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")
CONTAINERD_BINARIES = ("containerd", "containerd-shim-runc-v2", "ctr")
# kubeadm's images are served by registry.k8s.io whichever name kubeadm gives them (k8s.gcr.io redirects there).
SOURCE_REGISTRY = "registry.k8s.io"
_KUBEADM_DOMAINS = ("k8s.gcr.io", "registry.k8s.io")

# What each image is for: a cluster does not start without the first two and the network's images; the
# others' pods wait for them (DNS is skipped by kubeadm when the bundle lacks it).
KUBERNETES, DNS, NETWORK, STORAGE, KUBESPHERE = "kubernetes", "dns", "network", "storage", "kubesphere"
PARTS = (KUBERNETES, DNS, NETWORK, STORAGE, KUBESPHERE)


def normalize(ref: str) -> str:
    """``ref`` as containerd names it: ``redis:5`` is ``docker.io/library/redis:5``."""
    head, _, rest = ref.partition("/")
    if rest and ("." in head or ":" in head or head == "localhost"):
        domain, path = head, rest
    else:
        domain, path = "docker.io", ref
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if "@" not in path and ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{domain}/{path}"


@dataclass(frozen=True)
class Binary:
    """One release file, the published checksum that vouches for it, and where it lands.

    An archive (``members`` or ``into``) lands in the download cache under
    ``path``; the programs it holds go into the bundle.
    """

    url: str
    checksum_url: str
    path: str
    name: str
    version: str
    hint: str
    members: tuple = ()
    into: str | None = None

    @property
    def filename(self) -> str:
        return PurePosixPath(urllib.parse.urlsplit(self.url).path).name

    @property
    def is_archive(self) -> bool:
        return bool(self.members or self.into)

    def bundle_paths(self) -> list:
        return [path for _, path in self.members] if self.is_archive else [self.path]


@dataclass(frozen=True)
class Image:
    """An image the cluster runs: ``ref`` is the name containerd stores it under, ``source`` where it comes from.

    ``archive`` is the release file that carries it, for images published as
    files rather than in a registry.
    """

    ref: str
    name: str
    part: str
    source: str
    hint: str
    archive: Binary | None = None
    console: bool = False

    @property
    def path(self) -> str:
        return f"images/{self.name}.tar"

    @property
    def tag(self) -> str:
        return self.ref.rpartition(":")[2]


@dataclass(frozen=True)
class Bom:
    kube_version: str
    arch: str
    # None outside the version table when no version was given: then only what every bundle holds is known.
    versions: releases.Versions | None
    calico: str | None
    binaries: tuple
    images: tuple
    # Packages the Kubernetes hosts install, by OS family.
    packages: dict

    def images_of(self, *parts) -> list:
        return [image for image in self.images if image.part in parts]

    def missing(self, held_refs, *parts) -> list:
        """The references of the images of ``parts`` (all when none is given) that ``held_refs`` lacks."""
        held = {normalize(ref) for ref in held_refs if ref}
        return [image.ref for image in self.images if (not parts or image.part in parts) and image.ref not in held]

    def bundle_paths(self) -> set:
        paths = {path for binary in self.binaries for path in binary.bundle_paths()}
        return paths | {image.path for image in self.images}

    def kubernetes_only(self) -> "Bom":
        """Kubernetes' own part: kubeadm, kubelet, kubectl and the control plane's images with pause.

        What a bundle built from Debian source carries as well; etcd,
        containerd, runc, the CNI plugins and CoreDNS are left to other sources
        (distribution packages, ``artifact add-image``).
        """
        return dataclasses.replace(
            self, calico=None, binaries=tuple(b for b in self.binaries if b.name in KUBE_BINARIES),
            images=tuple(image for image in self.images if image.part == KUBERNETES),
        )


def _image_name(part, ref) -> str:
    repository, _, tag = ref.rpartition(":")
    return f"{part}-{repository.rpartition('/')[2]}-{tag}"


def _kubeadm_source(ref) -> str:
    domain, _, path = ref.partition("/")
    return f"{SOURCE_REGISTRY}/{path}" if domain in _KUBEADM_DOMAINS else ref


def _binaries(kube_version, arch, versions) -> list:
    kube_hint = f"check --kube-version ({kube_version} must be a published release)"
    release = f"{K8S_RELEASE}/{kube_version}/bin/linux/{arch}"

    def hint(component):
        return f"check {releases.OVERRIDE_FLAGS[component]} ({getattr(versions, component)})"

    binaries = [Binary(f"{release}/{name}", f"{release}/{name}.sha256", f"bin/{name}", name, kube_version, kube_hint)
                for name in KUBE_BINARIES]
    if versions is None:
        return binaries
    runc = f"{RUNC_RELEASES}/v{versions.runc}"
    binaries.append(Binary(f"{runc}/runc.{arch}", f"{runc}/runc.sha256sum", "bin/runc", "runc", f"v{versions.runc}",
                           hint("runc")))

    def archive(component, url, checksum_url, members=(), into=None):
        name = PurePosixPath(urllib.parse.urlsplit(url).path).name
        return Binary(url, checksum_url, f"archives/{name}", component, f"v{getattr(versions, component)}",
                      hint(component), tuple(members), into)

    etcd_dir = f"etcd-v{versions.etcd}-linux-{arch}"
    etcd = f"{ETCD_RELEASES}/v{versions.etcd}"
    containerd = f"{CONTAINERD_RELEASES}/v{versions.containerd}/containerd-{versions.containerd}-linux-{arch}.tar.gz"
    crictl = f"{CRICTL_RELEASES}/v{versions.crictl}/crictl-v{versions.crictl}-linux-{arch}.tar.gz"
    cni = f"{CNI_RELEASES}/v{versions.cni}/cni-plugins-linux-{arch}-v{versions.cni}.tgz"
    binaries += [
        archive("etcd", f"{etcd}/{etcd_dir}.tar.gz", f"{etcd}/SHA256SUMS",
                [(f"{etcd_dir}/{name}", f"bin/{name}") for name in ("etcd", "etcdctl")]),
        archive("containerd", containerd, f"{containerd}.sha256sum",
                [(f"bin/{name}", f"bin/{name}") for name in CONTAINERD_BINARIES]),
        archive("crictl", crictl, f"{crictl}.sha256", [("crictl", "bin/crictl")]),
        archive("cni", cni, f"{cni}.sha256", into="cni"),
    ]
    return binaries


def _kubernetes_images(config, kube_version, arch, versions) -> list:
    kube_hint = f"check --kube-version ({kube_version} must be a published release)"
    release = f"{K8S_RELEASE}/{kube_version}/bin/linux/{arch}"
    repository = config["kube_image_repository"]
    images = []
    for name in CONTROL_PLANE_IMAGES:
        archive = Binary(f"{release}/{name}.tar", f"{release}/{name}.tar.sha256",
                         f"archives/{kube_version}/{arch}/{name}.tar", name, kube_version, kube_hint)
        ref = normalize(f"{repository}/{name}:{kube_version}")
        images.append(Image(ref, name, KUBERNETES, ref, kube_hint, archive=archive))
    sandbox = normalize(config["containerd_sandbox_image"])
    images.append(Image(sandbox, "pause", KUBERNETES, _kubeadm_source(sandbox),
                        "check containerd_sandbox_image and --pause-version"))
    if versions is None:
        return images
    # kubeadm moved CoreDNS to coredns/coredns, with tags starting with 'v', in 1.21.
    path = "coredns/coredns" if releases.kube_minor(kube_version) >= (1, 21) else "coredns"
    coredns = normalize(f"{repository}/{path}:{versions.coredns}")
    images.append(Image(coredns, "coredns", DNS, _kubeadm_source(coredns),
                        f"check {releases.OVERRIDE_FLAGS['coredns']} ({versions.coredns})"))
    return images


def _calico_images(kube_version, version) -> list:
    major, minor = releases.kube_minor(kube_version)
    hint = (f"calico {version} is the release saltsphere pairs with Kubernetes {major}.{minor}; if docker.io "
            "cannot serve it, fetch again later, or install with kube_network_plugin: bridge")
    found = []
    for ref in calico.images(version):
        name = f"calico-{ref.rpartition(':')[0].rpartition('/')[2]}"
        found.append(Image(normalize(ref), name, NETWORK, normalize(ref), hint))
    return found


def _kubesphere_images(config, masters) -> list:
    if config["ks_version"] not in kubesphere.RELEASES:
        # kubesphere.release names that problem wherever KubeSphere is installed.
        return []
    rel = kubesphere.release(config)
    hint = f"KubeSphere {rel.version} runs it (its images-list.txt); check ks_version"
    wanted = kubesphere.images(config, masters) if masters is not None else [*rel.console, *rel.core, *rel.redis]
    console = {normalize(ref) for ref in rel.console}
    return [Image(normalize(ref), _image_name(KUBESPHERE, normalize(ref)), KUBESPHERE, normalize(ref), hint,
                  console=normalize(ref) in console)
            for ref in wanted]


def _storage_images(config) -> list:
    hint = "a storage class enabled in vars.yml runs it"
    return [Image(normalize(ref), _image_name(STORAGE, normalize(ref)), STORAGE, normalize(ref), hint)
            for ref in storage.images(config)]


def compute(config: dict, masters: int | None = None, arch: str = "amd64", overrides: dict | None = None) -> Bom:
    """What a cluster of ``masters`` masters (any number when None) configured by ``config`` needs.

    ``config`` is vars.yml's values over the defaults; ``overrides`` maps the
    components of ``releases.COMPONENTS`` to versions that replace the table's.
    """
    kube_version = config["kube_version"]
    # Outside the version table, only a fetch (which names every version) needs what the table would say.
    known = releases.kube_minor(kube_version) in releases.VERSION_TABLE
    versions = releases.resolve_versions(kube_version, overrides) if known or overrides else None
    paired = releases.calico_version(kube_version)
    images = _kubernetes_images(config, kube_version, arch, versions)
    if config["kube_network_plugin"] == "calico" and paired is not None:
        images += _calico_images(kube_version, paired)
    images += _storage_images(config)
    images += _kubesphere_images(config, masters)
    packages = {family: storage.client_packages(config, family) for family in storage.CLIENT_PACKAGES}
    return Bom(kube_version, arch, versions, paired, tuple(_binaries(kube_version, arch, versions)),
               tuple(images), packages)


def of_cluster(cluster, arch: str = "amd64") -> Bom:
    """The bill of materials of a loaded cluster (``saltsphere.cluster.Cluster``)."""
    return compute(cluster.config.values, masters=len(cluster.role_members(MASTER)), arch=arch)


def held_refs(files) -> list:
    """The image references of bundle files: manifest entries, or the bundle pillar's ``files`` mapping."""
    if isinstance(files, dict):
        return [entry.get("ref") for entry in files.values() if entry.get("kind") == "image" and entry.get("ref")]
    return [entry.ref for entry in files if entry.kind == "image" and entry.ref]

"""`saltsphere artifact ...`: build the offline bundle and check one."""

import dataclasses
import json
import sys
from pathlib import Path

from saltsphere import cluster, releases
from saltsphere import config as cfg
from saltsphere.artifacts import addimage, bundlefile, debian_source, fetch, manifest
from saltsphere.artifacts.errors import ArtifactError
from saltsphere.inventory import MASTER
from saltsphere.problems import InvalidInput

DEFAULT_OUT = Path("/var/lib/saltsphere/bundle")


def register(subparsers):
    """Add the `artifact` command tree to the ``saltsphere`` argument parser."""
    parser = subparsers.add_parser("artifact", help="the offline bundle of binaries a cluster installs from")
    commands = parser.add_subparsers(dest="artifact_command", metavar="ACTION")
    commands.required = True

    build = commands.add_parser(
        "build", help="build the bundle's binaries",
        description="Build the bundle's binaries and write its manifest.",
    )
    build.add_argument("--from-debian-source", action="store_true", required=True,
                       help="build Kubernetes from Debian's 'kubernetes' source package (needs root and a Debian mirror)")
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                       help=f"the bundle directory (default: {DEFAULT_OUT})")
    build.add_argument("--cache", type=Path, default=debian_source.CACHE_ROOT, metavar="DIR",
                       help=f"where sources and finished builds are kept (default: {debian_source.CACHE_ROOT})")
    build.set_defaults(func=cmd_build)

    download = commands.add_parser(
        "fetch", help="download the bundle from the official releases (needs internet)",
        description="Download what the cluster's bill of materials lists from the official releases: "
                    "Kubernetes, etcd, containerd, runc, crictl, the CNI plugins, the images kubeadm needs, those of "
                    "the calico release paired with the Kubernetes minor, of the enabled storage classes and of "
                    "KubeSphere; check each against its published sha256 or digest, and write the bundle's "
                    "manifest. Files already in place with the right sha256 are not downloaded again.",
    )
    download.add_argument("--kube-version", required=True, metavar="vX.Y.Z",
                          help="the Kubernetes release, e.g. v1.28.4")
    download.add_argument("--arch", default="amd64", help=f"one of {', '.join(fetch.ARCHES)} (default: amd64)")
    download.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                          help=f"the bundle directory (default: {DEFAULT_OUT})")
    download.add_argument("--cache", type=Path, default=fetch.CACHE_ROOT, metavar="DIR",
                          help=f"where release archives and checksum files are kept (default: {fetch.CACHE_ROOT})")
    for component, flag in releases.OVERRIDE_FLAGS.items():
        download.add_argument(flag, dest=f"{component}_version", metavar="VERSION",
                              help=f"the {component} version to fetch instead of the version table's")
    download.add_argument("-i", "--inventory", metavar="HOSTS_INI",
                          help="fetch for the cluster of this hosts.ini (its vars.yml beside it): only what its "
                               "components need (default: every default component, any number of masters)")
    download.add_argument("--vars", metavar="VARS_YML",
                          help="the cluster's vars.yml (default: the one beside --inventory, else the defaults)")
    download.add_argument("--kubernetes-only", action="store_true",
                          help="only Kubernetes' own releases: kubeadm, kubelet, kubectl, the control plane's images "
                               "and pause (what a bundle built from Debian source carries too); not etcd, "
                               "containerd, runc, crictl, the CNI plugins, CoreDNS or the network's, storage's and "
                               "KubeSphere's images")
    download.add_argument("--release-url", metavar="URL",
                          help="take every release file and its checksum file from this mirror instead, at "
                               "upstream's path below URL (dl.k8s.io/release/... is URL/release/..., "
                               "github.com/etcd-io/... is URL/etcd-io/...); https, or http on loopback only")
    download.add_argument("--registry-mirror", metavar="HOST[:PORT]",
                          help="pull every image from this registry instead, under its upstream repository path "
                               "(registry.k8s.io/pause:3.9 is HOST/pause:3.9, docker.io/calico/node:TAG is "
                               "HOST/calico/node:TAG); https, or http://HOST[:PORT] on loopback only")
    download.add_argument("--plan", action="store_true",
                          help="download nothing: print each URL or image reference the fetch would download, "
                               "with the checksum or digest that vouches for it")
    download.add_argument("--json", action="store_true", help="with --plan: print the plan as JSON")
    download.set_defaults(func=cmd_fetch)

    check = commands.add_parser(
        "verify", help="check every file of a bundle against its manifest (size and sha256)",
        description="Check every file of a bundle against its manifest; list every difference.",
    )
    check.add_argument("directory", type=Path, metavar="DIR")
    check.set_defaults(func=cmd_verify)

    add = commands.add_parser(
        "add-image", help="put an image archive (OCI layout or `docker save` tar) into a bundle",
        description="Check every blob of an OCI image layout tar or a `docker save` tar against its digest, copy "
                    "it to the bundle's images/ and list it in the manifest, so that hosts import it like the "
                    "bundle's other images.",
    )
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("archive", type=Path, metavar="ARCHIVE", nargs="?")
    source.add_argument("--pull", metavar="REF", help="pull the image from its registry instead (needs internet)")
    add.add_argument("--registry-mirror", metavar="HOST[:PORT]",
                     help="with --pull: the registry to pull from instead (https, or http://HOST[:PORT] on "
                          "loopback only)")
    add.add_argument("--name", metavar="REF",
                     help="the image reference to store it under; needed when the archive names no image or several")
    add.add_argument("--bundle", type=Path, default=DEFAULT_OUT, metavar="DIR",
                     help=f"the bundle directory (default: {DEFAULT_OUT})")
    add.add_argument("--replace", action="store_true",
                     help="drop a different image the bundle holds under the same file name")
    add.set_defaults(func=cmd_add_image)

    export = commands.add_parser(
        "export", help="write a bundle as one tar file, with its sha256 beside it",
        description="Write the bundle's manifest and every file it lists (nothing else) as one reproducible tar "
                    "file, after checking each file against the manifest; write FILE.sha256 beside it.",
    )
    export.add_argument("--bundle", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"the bundle directory (default: {DEFAULT_OUT})")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.tar", help="the file to write")
    export.set_defaults(func=cmd_export)

    unpack = commands.add_parser(
        "import", help="unpack a file written by `artifact export` and check it",
        description="Check FILE against FILE.sha256 when that exists, unpack it beside DIR, check every file "
                    "against the manifest, and only then put it in DIR's place (the old DIR is kept until then).",
    )
    unpack.add_argument("archive", type=Path, metavar="FILE.tar")
    unpack.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"the bundle directory to create or replace (default: {DEFAULT_OUT})")
    unpack.set_defaults(func=cmd_import)
    return parser



def _log(line):
    print(line, flush=True)


def cmd_build(args):
    result = debian_source.build_from_debian_source(args.cache, args.out, log=_log)
    for entry in result.files:
        print(f"{entry.path}\t{entry.version}\t{entry.size}\t{entry.sha256}")
    print(f"bundle: {args.out.resolve()}")
    return 0


def _cluster_inputs(args) -> tuple:
    """``(vars.yml, number of masters)`` of the cluster ``--inventory``/``--vars`` name, or ``(None, None)``."""
    if args.inventory:
        loaded = cluster.load(args.inventory, args.vars)
        return loaded.config, len(loaded.role_members(MASTER))
    if args.vars:
        config, problems = cfg.load(args.vars)
        if problems.errors:
            raise InvalidInput(problems)
        return config, None
    return None, None


def plan_document(bundle: fetch.Plan, bill) -> dict:
    """What ``fetch --plan --json`` prints: every download, and what vouches for it."""
    binaries = [{"name": item.name, "version": item.version, "url": item.url, "sha256_from": item.checksum_url,
                 "lands": [item.path]} for item in bundle.files]
    binaries += [{"name": archive.download.name, "version": archive.download.version, "url": archive.download.url,
                  "sha256_from": archive.download.checksum_url,
                  "lands": [path for _, path in archive.members] or [f"{archive.into}/"]}
                 for archive in bundle.archives]
    parts = {image.ref: image.part for image in bill.images}
    images = [{"ref": image.reference, "part": parts[image.reference], "url": image.download.url,
               "sha256_from": image.download.checksum_url, "lands": image.path} for image in bundle.release_images]
    images += [{"ref": image.reference, "part": parts[image.reference],
                "pull": f"{image.registry}/{image.source}:{image.tag}", "digest_from": image.registry,
                "lands": image.path} for image in bundle.images]
    return {"kube_version": bundle.kube_version, "arch": bundle.arch, "versions": dataclasses.asdict(bundle.versions),
            "calico": bill.calico, "binaries": binaries, "images": images,
            "packages": bill.packages}


def _print_plan(document, out):
    print(f"Kubernetes {document['kube_version']} for linux/{document['arch']}"
          + (f", calico {document['calico']}" if document["calico"] else ""), file=out)
    for item in document["binaries"]:
        print(f"{item['url']}\tsha256 from {item['sha256_from']}", file=out)
    for item in document["images"]:
        if "url" in item:
            print(f"{item['ref']}\t{item['url']}, sha256 from {item['sha256_from']}", file=out)
        else:
            print(f"{item['ref']}\tfrom {item['pull']}, digests named by {item['digest_from']}", file=out)
    print(f"{len(document['binaries'])} release files and {len(document['images'])} images; nothing was downloaded",
          file=out)


def cmd_fetch(args):
    out = sys.stdout
    overrides = {component: getattr(args, f"{component}_version") for component in releases.COMPONENTS}
    config, masters = _cluster_inputs(args)
    if args.plan:
        bill = fetch.bill_of_materials(args.kube_version, args.arch, overrides, config, masters, args.kubernetes_only)
        document = plan_document(fetch.plan(bill, args.release_url, args.registry_mirror), bill)
        if args.json:
            print(json.dumps(document, indent=2), file=out)
        else:
            _print_plan(document, out)
        return 0
    result = fetch.fetch(args.out, args.kube_version, args.arch, overrides, config=config, masters=masters,
                         kubernetes_only=args.kubernetes_only, release_url=args.release_url,
                         registry_mirror=args.registry_mirror, cache_dir=args.cache, log=_log)
    for entry in result.files:
        print(f"{entry.path}\t{entry.version}\t{entry.size}\t{entry.sha256}")
    print(f"bundle: {args.out.resolve()}")
    return 0


def cmd_verify(args):
    problems = manifest.verify(args.directory)
    if problems:
        for problem in problems:
            print(f"error: {args.directory}/{problem}", file=sys.stderr)
        print(f"error: {args.directory} does not match its manifest ({len(problems)} problem(s)); "
              "rebuild or fetch the bundle again", file=sys.stderr)
        return 1
    count = len(manifest.read_manifest(args.directory).files)
    print(f"OK: {args.directory}: {count} files match {manifest.MANIFEST_NAME}")
    return 0


def cmd_add_image(args):
    if args.pull:
        if args.name:
            raise ArtifactError("--name and --pull: the pulled image is stored under the reference it is pulled by")
        entry = addimage.pull_and_add(args.bundle, args.pull, mirror=args.registry_mirror, replace=args.replace,
                                      log=_log)
    else:
        if args.registry_mirror:
            raise ArtifactError("--registry-mirror goes with --pull only")
        entry = addimage.add_image(args.bundle, args.archive, name=args.name, replace=args.replace)
    print(f"{entry.path}\t{entry.ref}\t{entry.size}\t{entry.sha256}")
    print(f"OK: {args.bundle}: {entry.ref} added as {entry.path}")
    return 0


def cmd_export(args):
    result = bundlefile.export_bundle(args.bundle, args.out)
    print(f"OK: {result.files} files and {manifest.MANIFEST_NAME} written to {result.path} "
          f"({result.size} bytes, sha256 {result.sha256}); checksum in {result.path}{bundlefile.CHECKSUM_SUFFIX}")
    return 0


def cmd_import(args):
    result = bundlefile.import_bundle(args.archive, args.out)
    print(f"OK: {args.out}: {len(result.files)} files match {manifest.MANIFEST_NAME}")
    return 0

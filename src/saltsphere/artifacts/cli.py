"""`saltsphere artifact ...`: build the offline bundle and check one."""

import sys
from pathlib import Path

from saltsphere import releases
from saltsphere.artifacts import debian_source, fetch, manifest

DEFAULT_OUT = Path("/var/lib/saltsphere/bundle")


def register(subparsers):
    """Add the `artifact` command tree to the ``saltsphere`` argument parser."""
    parser = subparsers.add_parser("artifact", help="the offline bundle of binaries a cluster installs from")
    commands = parser.add_subparsers(dest="artifact_command", metavar="ACTION")
    commands.required = True

    build = commands.add_parser(
        "build", help="build the bundle's binaries", description="Build the bundle's binaries and write its manifest.",
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
        description="Download Kubernetes, etcd, containerd, runc, crictl, the CNI plugins, the images kubeadm "
                    "needs and those of the calico release paired with the Kubernetes minor from their official "
                    "releases, check each against its published sha256 or digest, and write the bundle's manifest. "
                    "Files already in place with the right sha256 are not downloaded again.",
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
    download.set_defaults(func=cmd_fetch)

    check = commands.add_parser(
        "verify", help="check every file of a bundle against its manifest (size and sha256)",
        description="Check every file of a bundle against its manifest; list every difference.",
    )
    check.add_argument("directory", type=Path, metavar="DIR")
    check.set_defaults(func=cmd_verify)
    return parser



def _log(line):
    print(line, flush=True)


def cmd_build(args):
    result = debian_source.build_from_debian_source(args.cache, args.out, log=_log)
    for entry in result.files:
        print(f"{entry.path}\t{entry.version}\t{entry.size}\t{entry.sha256}")
    print(f"bundle: {args.out.resolve()}")
    return 0


def cmd_fetch(args):
    overrides = {component: getattr(args, f"{component}_version") for component in releases.COMPONENTS}
    result = fetch.fetch(args.out, args.kube_version, args.arch, overrides, cache_dir=args.cache, log=_log)
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

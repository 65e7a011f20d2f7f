"""How long `saltsphere artifact build --from-debian-source` takes: a cold build and a cached re-run.

Run as root: python benchmarks/artifact_build.py [--cache DIR] [--keep] [--cached-only]
Cold: a new, empty cache directory, so the source is downloaded, unpacked and
compiled (5 to 11 minutes on 2 cores). Cached: the same command again, which
finds the finished build and only copies the binaries and writes the manifest.
--cached-only times the second case alone against the default cache (build it
once first). Prints one JSON object with the wall times and binary sizes.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from saltsphere.artifacts import ArtifactError, verify
from saltsphere.artifacts import debian_source


def timed_build(cache, out):
    started = time.monotonic()
    manifest = debian_source.build_from_debian_source(cache, out, log=lambda line: print(line, flush=True))
    seconds = time.monotonic() - started
    problems = verify(out)
    if problems:
        raise ArtifactError(f"the bundle just built does not verify: {problems}")
    return seconds, manifest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache directory for the cold build (default: a new one)")
    parser.add_argument("--keep", action="store_true", help="keep the cold build's cache directory")
    parser.add_argument("--cached-only", action="store_true",
                        help=f"time only a cached build, against {debian_source.CACHE_ROOT}")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="saltsphere-bench-"))
    results = {}
    if args.cached_only:
        cache = debian_source.CACHE_ROOT
    else:
        cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-", dir="/var/cache/saltsphere"))
    try:
        if not args.cached_only:
            results["cold_seconds"], _ = timed_build(cache, work / "cold")
        results["cached_seconds"], manifest = timed_build(cache, work / "cached")
        results["binaries"] = {entry.name: entry.size for entry in manifest.files if entry.kind == "binary"}
        results["kube_version"] = manifest.kube_version
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.cached_only and not args.keep and args.cache is None:
            shutil.rmtree(cache, ignore_errors=True)
    print(json.dumps({key: round(value, 1) if isinstance(value, float) else value
                      for key, value in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

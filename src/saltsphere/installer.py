"""``saltsphere install``: the seed's install.sh, phase by phase with salt-run.

Bad input stops before any host is contacted.  Then each phase of the
orchestration runs in order, with one line of progress when it ends, and the
first failed phase stops the install naming its hosts.  The banner comes only
once the KubeSphere console really answers.  ``--dry-run`` runs the plan
instead (:mod:`saltsphere.plan`): the same checks, nothing installed.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from saltsphere import bom, cluster, clusterdir, kube, kubesphere
from saltsphere import config as cfg
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER, NODE, ROLES
from saltsphere.problems import InvalidInput

PHASES = ("preflight", "os", "etcd", "containerd", "kubernetes", "network", "storage", "ks")
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_RUNNING = 0, 1, 2, 3
PHASE_TIMEOUT = 3600
KILL_GRACE = 10
DEFAULT_WAIT = 1800
REPORT_EVERY = 30
PROBE_EVERY = 5
RUNNING_FILE = Path("kubesphere") / "kubesphere_running"
ALL_IN_ONE_HOST = "master"

_REQUISITE = "One or more requisite failed"
_NO_CHANGES = re.compile(r"No changes made to (.+)\.$")
_RUN_FAILED = re.compile(r"Run failed on minions: ([^\n]+)")


# --- one phase's result, from salt-run's JSON ---------------------------------


@dataclass(frozen=True)
class PhaseResult:
    ok: bool
    done: tuple = ()
    failed: tuple = ()
    # The first failure, as the state or runner that failed put it.
    comment: str = ""
    # Checks that failed (preflight): {host, check, detail, fix}.
    rows: tuple = ()
    # States that changed something on a host, and taskbox steps that did.
    changed: int = 0


def parse_json_stream(text: str) -> dict:
    """Salt's JSON output as one dict.

    salt-run prints a document per phase and salt-ssh one per host as they
    return; documents printed one after another are merged.
    """
    decoder = json.JSONDecoder()
    merged, index, text = {}, 0, text.strip()
    while index < len(text):
        doc, index = decoder.raw_decode(text, index)
        merged.update(doc if isinstance(doc, dict) else {"return": doc})
        while index < len(text) and text[index].isspace():
            index += 1
    return merged


def _names(text) -> list:
    return [name.strip() for name in text.split(",") if name.strip()]


def _errors(value) -> str:
    if isinstance(value, (list, tuple)):
        return "; ".join(str(item) for item in value if item)
    return str(value)


def _host_failure(states):
    """Why one host's return is a failure, or None when every state on it succeeded."""
    if not isinstance(states, dict):
        return _errors(states) or "no return"
    entries = [(key, s) for key, s in states.items() if isinstance(s, dict) and "result" in s]
    if not entries:
        detail = states.get("_error") or states.get("stderr") or json.dumps(states)[:500]
        return str(detail).strip()
    failing = sorted((pair for pair in entries if pair[1]["result"] is False),
                     key=lambda pair: pair[1].get("__run_num__", 0))
    if not failing:
        return None
    own = [pair for pair in failing if not str(pair[1].get("comment", "")).startswith(_REQUISITE)]
    key, state = (own or failing)[0]
    return f"{state.get('__id__', key)}: {state.get('comment', '')}".strip()


def phase_result(data: dict, hosts=()) -> PhaseResult:
    """The hosts done and failed, and the first failure, of one ``state.orchestrate`` return.

    ``hosts`` are the cluster's hosts: a runner that checks all of them
    (preflight) names only the failing ones.
    """
    done, failed, comments, rows, ok, changed = [], [], [], [], True, 0
    for returner in (data.get("data", data) or {}).values():
        if not isinstance(returner, dict):
            # The orchestration itself did not render.
            ok = False
            comments.append(_errors(returner))
            continue
        steps = sorted((s for s in returner.values() if isinstance(s, dict)), key=lambda s: s.get("__run_num__", 0))
        for step in steps:
            comment = str(step.get("comment", ""))
            step_failed = step.get("result") is False
            ok = ok and not step_failed
            changes = step.get("changes") or {}
            found = []
            if isinstance(step.get("failures"), list):
                # A check of every host (preflight): only the failing ones are named.
                bad = [f for f in step["failures"] if isinstance(f, dict) and f.get("host")]
                rows += bad
                failed += [f["host"] for f in bad]
                done += [h for h in hosts if h not in failed]
                if step_failed:
                    summary = comment.strip().splitlines()[-1] if comment.strip() else ""
                    comments.append(summary or "preflight failed")
                continue
            host_returns = changes.get("ret") or {}
            if changes and not host_returns:
                changed += 1
            for host, states in host_returns.items():
                if isinstance(states, dict):
                    changed += sum(1 for state in states.values() if isinstance(state, dict) and state.get("changes"))
                problem = _host_failure(states)
                if problem is None:
                    done.append(host)
                else:
                    failed.append(host)
                    found.append(f"{host}: {problem}")
            for match in _NO_CHANGES.finditer(comment):
                done += _names(match.group(1))
            for match in _RUN_FAILED.finditer(comment):
                failed += _names(match.group(1))
            if step_failed and not comment.startswith(_REQUISITE):
                comments += found or [comment]
    if data.get("retcode", 0) not in (0, None):
        ok = False
    failed = list(dict.fromkeys(failed))
    done = [h for h in dict.fromkeys(done) if h not in failed]
    ok = ok and not failed
    first = comments[0] if comments else ("" if ok else "the orchestration failed without a comment")
    return PhaseResult(ok=ok, done=tuple(done), failed=tuple(failed), comment="" if ok else first,
                       rows=tuple(rows), changed=changed)


def outcome(returncode, stdout, stderr, hosts=()) -> PhaseResult:
    """A phase's result from salt-run's exit code and output."""
    try:
        data = parse_json_stream(stdout)
    except ValueError:
        data = {}
    if not data:
        tail = (stderr or stdout or "").strip()[-1500:]
        return PhaseResult(ok=False, comment=f"salt-run printed no result (exit {returncode}): {tail}")
    result = phase_result(data, hosts)
    if result.ok and returncode != 0:
        tail = (stderr or "").strip()[-1500:]
        return PhaseResult(ok=False, done=result.done, comment=f"salt-run exited {returncode}: {tail}")
    return result


def progress_line(index, total, phase, result: PhaseResult, seconds) -> str:
    """``[5/8] kubernetes  ok      3 hosts done, 0 failed, 41 changed   84 s``"""
    state = "ok" if result.ok else "FAILED"
    return (f"[{index}/{total}] {phase:<11} {state:<7} {len(result.done)} hosts done, {len(result.failed)} failed, "
            f"{result.changed} changed   {seconds:.0f} s")


def failure_message(phase, result: PhaseResult) -> str:
    where = f" on {', '.join(result.failed)}" if result.failed else ""
    lines = [f"phase {phase} failed{where}:", f"  {result.comment}"]
    for row in result.rows:
        lines.append(f"  {row.get('host')} {row.get('check')}: {row.get('detail')}")
        if row.get("fix"):
            lines.append(f"      fix: {row['fix']}")
    lines.append("Fix the cause and run the same command again: every phase converges.")
    return "\n".join(lines)


# --- running salt-run ---------------------------------------------------------


def salt_run() -> str:
    sibling = Path(sys.executable).parent / "salt-run"
    return str(sibling) if sibling.exists() else shutil.which("salt-run") or "salt-run"


def salt_ssh() -> str:
    sibling = Path(sys.executable).parent / "salt-ssh"
    return str(sibling) if sibling.exists() else shutil.which("salt-ssh") or "salt-ssh"


def run_group(argv, cwd, timeout, grace=KILL_GRACE):
    """Run ``argv`` in a process group of its own: ``(returncode, stdout, stderr)``, returncode None on timeout.

    On timeout the whole group is stopped (SIGTERM, then SIGKILL after
    ``grace`` seconds): salt-run's ssh sessions end with it, so nothing it
    started goes on to race the next run.
    """
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        _stop_group(proc, grace)
        out, err = proc.communicate()
        return None, out or "", f"{os.path.basename(argv[0])} did not finish within {timeout} s and was stopped " \
                                f"with everything it started; {(err or '').strip()[-500:]}"


def _stop_group(proc, grace):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    # salt-run may be gone while the ssh sessions it started are not.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_phase(cluster_directory, phase, timeout=PHASE_TIMEOUT, test=False):
    """``salt-run state.orchestrate kubesphere.<phase>`` (a dry run with ``test``): ``(returncode, stdout, stderr)``."""
    directory = Path(cluster_directory)
    argv = [salt_run(), "--saltfile", str(directory / "Saltfile"), "--out=json",
            "state.orchestrate", f"kubesphere.{phase}", *(["test=True"] if test else [])]
    return run_group(argv, directory, timeout)


def run_in_order(cluster_directory, steps, runner, hosts, out=None, clock=time.monotonic, first=1,
                 total=None) -> bool:
    """``runner(cluster_directory, step)`` for each of ``steps`` in order, one line each; False at the first that
    fails (its hosts and why are printed).  ``hosts``: the cluster's, for a check that names only failing ones.
    Lines count from ``first`` of ``total`` (the steps' own count unless given)."""
    out = out or sys.stdout
    total = total or len(steps) + first - 1
    for index, step in enumerate(steps, first):
        started = clock()
        result = outcome(*runner(cluster_directory, step), hosts=hosts)
        print(progress_line(index, total, step, result, clock() - started), file=out, flush=True)
        if not result.ok:
            print(failure_message(step, result), file=out)
            return False
    return True


PLANNED = "planned"
_PLANNED_ID = "kubesphere-planned-saltsphere-cluster-planned"


def planned_return(stdout) -> dict:
    """The return of the ``kubesphere.planned`` state in salt-run's JSON output; ``{}`` when it is not there."""
    try:
        data = parse_json_stream(stdout)
    except ValueError:
        return {}
    for returner in (data.get("data", data) or {}).values():
        if isinstance(returner, dict):
            for state in returner.values():
                if isinstance(state, dict) and state.get("__id__") == _PLANNED_ID:
                    return state
    return {}


def first_changing(changes) -> int:
    """The index in :data:`PHASES` of the first phase a ``kubesphere.planned`` return says would change.

    The phases before it would change nothing on any host and are skipped;
    every phase from it on runs, in order (a later phase may depend on what
    an earlier one changes).  A host that could not be planned, or an answer
    that names no phase, runs every phase after the preflight (1).
    """
    changing = changes.get("would change")
    if changes.get("not planned") or not isinstance(changing, dict):
        return 1
    found = [PHASES.index(phase) for phases in changing.values() for phase in phases if phase in PHASES[1:]]
    return min(found, default=1)


def run_phases(cluster_directory, hosts, runner=run_phase, out=None, clock=time.monotonic) -> bool:
    """Every phase of the install in order, one line each; False at the first one that fails.

    Once a complete run is recorded (:mod:`saltsphere.converged`), the
    preflight is followed by one question to every host (``kubesphere.planned``):
    the phases before the first one that would change on some host are skipped
    (all of them when no host would change).  A complete run is recorded when
    it ends.
    """
    from saltsphere import converged

    out = out or sys.stdout
    total = len(PHASES)
    if converged.recorded(cluster_directory):
        if not run_in_order(cluster_directory, PHASES[:1], runner, hosts, out, clock, total=total):
            return False
        started = clock()
        returncode, stdout, stderr = runner(cluster_directory, PLANNED)
        result, state = outcome(returncode, stdout, stderr, hosts=hosts), planned_return(stdout)
        if not result.ok or not state:
            print(failure_message(PLANNED, result if not result.ok else PhaseResult(
                ok=False, comment="salt-run returned no answer of the kubesphere.planned state")), file=out)
            return False
        if not state.get("changes"):
            print(f"[2-{total}/{total}] {PHASES[1] + ' to ' + PHASES[-1]:<9} skipped nothing would change on any "
                  f"host (every host's states under test=True)   {clock() - started:.0f} s", file=out, flush=True)
            return True
        print(f"      {state.get('comment', '')}", file=out, flush=True)
        start = first_changing(state["changes"])
        if start > 1:
            span = f"{PHASES[1]} to {PHASES[start - 1]}" if start > 2 else PHASES[1]
            print(f"[2{'-' + str(start) if start > 2 else ''}/{total}] {span:<9} skipped nothing would change there "
                  f"on any host   {clock() - started:.0f} s", file=out, flush=True)
        ok = run_in_order(cluster_directory, PHASES[start:], runner, hosts, out, clock, first=start + 1, total=total)
    else:
        ok = run_in_order(cluster_directory, PHASES, runner, hosts, out, clock)
    if ok:
        converged.record(cluster_directory)
    return ok


def run_day2_step(cluster_directory, verb, step, hosts, timeout=PHASE_TIMEOUT, test=False):
    """One step of ``salt-run state.orchestrate kubesphere.<verb>`` for ``hosts`` (pillar ``saltsphere_<verb>``;
    a dry run with ``test``): ``(returncode, stdout, stderr)``."""
    directory = Path(cluster_directory)
    pillar = json.dumps({f"saltsphere_{verb}": {"hosts": list(hosts), "step": step}})
    argv = [salt_run(), "--saltfile", str(directory / "Saltfile"), "--out=json",
            "state.orchestrate", f"kubesphere.{verb}", f"pillar={pillar}", *(["test=True"] if test else [])]
    return run_group(argv, directory, timeout)


# --- the console ---------------------------------------------------------------


def wait_for_console(url, wait, probe=kubesphere.console_problem, clock=time.monotonic, sleep=time.sleep,
                     out=None) -> bool:
    """True once ``url`` answers 200, False after ``wait`` seconds; a line of progress every 30 s."""
    out = out or sys.stdout
    started = clock()
    next_report = started + REPORT_EVERY
    while True:
        problem = probe(url)
        if problem is None:
            return True
        now = clock()
        if now - started >= wait:
            print(f"the KubeSphere console at {url} did not answer within {wait} s (last: {problem})", file=out)
            return False
        if now >= next_report:
            print(f"waiting for the KubeSphere console at {url}: {now - started:.0f} s ({problem})",
                  file=out, flush=True)
            next_report += REPORT_EVERY
        sleep(min(PROBE_EVERY, wait - (now - started)))


def write_running(cluster_directory, text) -> Path:
    """``kubesphere/kubesphere_running`` beside hosts.ini (0600: it holds the password), as the seed kept it."""
    path = Path(cluster_directory) / RUNNING_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return path


# --- questions and all-in-one ---------------------------------------------------


def _default_class_name(config) -> str:
    return next((sc.name for sc in cfg.STORAGE_CLASSES if config[sc.default_key]), "none")


def storage_help(vars_yml) -> str:
    lines = [f"Configure the storage in {vars_yml}: enable one class and make it the default, then run "
             "this installer again.", ""]
    for sc in cfg.STORAGE_CLASSES:
        lines.append(f"  {sc.name}: {sc.enable_key}: true and {sc.default_key}: true")
        if sc.required:
            lines.append(f"      with {', '.join(sc.required)}")
    lines += ["", "Local volume is for all-in-one only; NFS server in Kubernetes is for test installs. Every key "
              "and its default is in pillar/saltsphere/defaults.sls.", "Nothing was installed."]
    return "\n".join(lines)


def confirmed(ask, question, out) -> bool:
    """``question`` answered yes; otherwise says that nothing was changed (end of input is a no)."""
    try:
        answer = ask(f"{question} (yes/no): ").strip().lower()
    except EOFError:
        answer = ""
    if answer in ("yes", "y"):
        return True
    print("Nothing was changed.", file=out)
    return False


def storage_question(loaded, ask=input, out=None) -> bool:
    """The seed's question; True when the operator says the storage is configured."""
    out = out or sys.stdout
    print(f"Default storage class in {loaded.vars_yml}: {_default_class_name(loaded.config)}", file=out)
    while True:
        try:
            answer = ask("Have you configured storage? (yes/no): ").strip().lower()
        except EOFError:
            answer = "no"
        if answer in ("yes", "y"):
            return True
        if answer in ("no", "n"):
            print(storage_help(loaded.vars_yml), file=out)
            return False


ALL_IN_ONE_HOSTS = """\
[all]
{host} ansible_connection=local  ip={ip}

[kube-master]
{host}

[kube-node]
{host}

[etcd]
{host}

[k8s-cluster:children]
kube-node
kube-master
"""

ALL_IN_ONE_VARS = """\
# All-in-one: this taskbox is the whole cluster.

# Local volume provisioner deployment(Only all-in-one)
local_volume_provisioner_enabled: true
local_volume_provisioner_storage_class: local
local_volume_is_default_class: true

# One node: the CNI bridge needs neither a daemon nor an image.
kube_network_plugin: bridge
"""


def taskbox_ip() -> str:
    """The address of this machine on its default route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # sends nothing: it only picks the route
        except OSError as exc:
            raise ActionableError(f"this taskbox has no default route ({exc.strerror}), so its address is not known; "
                                  "write a hosts.ini for it and pass it with -i") from None
        return probe.getsockname()[0]


def write_all_in_one(directory, ip) -> list:
    """hosts.ini and vars.yml for this taskbox alone, in ``directory``; existing ones are kept."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("hosts.ini", ALL_IN_ONE_HOSTS.format(host=ALL_IN_ONE_HOST, ip=ip)),
                       ("vars.yml", ALL_IN_ONE_VARS)):
        path = directory / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            written.append(path)
    return written


def all_in_one_problem(loaded):
    """Why the inventory is not one host holding every role, or None."""
    roles = set(ROLES)
    if len(loaded.hosts) == 1 and roles <= set(next(iter(loaded.hosts.values())).roles):
        return None
    listing = ", ".join(f"{name} ({','.join(spec.roles) or 'no role'})" for name, spec in loaded.hosts.items())
    return (f"--all-in-one installs one host that is in [{ETCD}], [{MASTER}] and [{NODE}]; {loaded.hosts_ini} has "
            f"{len(loaded.hosts)} host(s): {listing}. Use --multi-node for it, or fix hosts.ini.")


# --- the install -----------------------------------------------------------------


def _not_running(missing, console_missing, bundle_dir) -> str:
    lines = ["Kubernetes is installed, and its storage classes and the KubeSphere installer are applied.",
             f"KubeSphere is not running: the bundle {bundle_dir} lacks these images, and the hosts have no "
             "registry to pull them from:"]
    lines += [f"  {ref}" for ref in console_missing]
    others = [ref for ref in missing if ref not in console_missing]
    if others:
        lines.append("Also missing (their pods cannot start):")
        lines += [f"  {ref}" for ref in others]
    lines.append("Add them to the bundle (image archives listed in its manifest.json with their ref), then run the "
                 "same command again.")
    return "\n".join(lines)


def install(args, *, runner=run_phase, ask=input, probe=kubesphere.console_problem, clock=time.monotonic,
            sleep=time.sleep, out=None, err=None, dry_run=None) -> int:
    """The install; with ``--dry-run``, its plan (:mod:`saltsphere.plan`): nothing is installed or written.

    ``dry_run(loaded, out=, err=)`` runs the plan (tests replace it).
    """
    out, err = out or sys.stdout, err or sys.stderr
    if getattr(args, "uninstall", False):
        from saltsphere import reset

        return reset.reset(argparse.Namespace(inventory=args.inventory, yes=args.yes, purge=False), out=out, err=err)
    if getattr(args, "add_nodes", None) is not None:
        from saltsphere import nodeadd

        return nodeadd.add(argparse.Namespace(inventory=args.inventory, hosts=args.add_nodes, yes=args.yes,
                                              dry_run=args.dry_run), out=out, err=err)
    if args.multi_node and not args.inventory:
        print("error: --multi-node needs -i HOSTS_INI, the cluster's hosts.ini", file=err)
        return EXIT_INVALID
    with contextlib.ExitStack() as scratch:
        if args.all_in_one and not args.inventory:
            hosts_ini = _all_in_one_inventory(args, scratch, out)
        else:
            hosts_ini = args.inventory
        return _install(args, hosts_ini, runner=runner, ask=ask, probe=probe, clock=clock, sleep=sleep, out=out,
                        err=err, dry_run=dry_run)


def _all_in_one_inventory(args, scratch, out) -> str:
    """hosts.ini of this taskbox alone, written to ``--dir``; a dry run writes nothing there (a throwaway copy)."""
    directory = Path(args.dir)
    if args.dry_run and (directory / "hosts.ini").exists():
        return str(directory / "hosts.ini")
    if args.dry_run:
        print(f"the install would write {directory / 'hosts.ini'} and {directory / 'vars.yml'}; the plan uses "
              "copies of them that it removes afterwards", file=out)
        directory = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="saltsphere-allinone.")))
        write_all_in_one(directory, taskbox_ip())
        return str(directory / "hosts.ini")
    for path in write_all_in_one(directory, taskbox_ip()):
        print(f"wrote {path}", file=out)
    return str(directory / "hosts.ini")


def load_reporting(hosts_ini, err):
    """The validated cluster of ``hosts_ini``, its warnings printed; None once its problems are printed."""
    try:
        loaded = cluster.load(hosts_ini)
    except InvalidInput as exc:
        for problem in exc.problems.warnings:
            print(f"warning: {problem}", file=err)
        print(exc.render(), file=err)
        return None
    for problem in loaded.warnings:
        print(f"warning: {problem}", file=err)
    return loaded


def _install(args, hosts_ini, *, runner, ask, probe, clock, sleep, out, err, dry_run) -> int:
    loaded = load_reporting(hosts_ini, err)
    if loaded is None:
        return EXIT_INVALID
    config = loaded.config.values
    problem = all_in_one_problem(loaded) if args.all_in_one else None
    try:
        kubesphere.release(config)
    except ActionableError as exc:
        problem = str(exc)
    if problem:
        print(f"error: {problem}", file=err)
        return EXIT_INVALID

    if args.dry_run:
        from saltsphere import plan

        return (dry_run or plan.run)(loaded, out=out, err=err)
    bundle = kube.bundle_manifest(config["artifact_bundle"])
    if args.multi_node and not args.yes and not storage_question(loaded, ask, out):
        return EXIT_OK
    bill = bom.of_cluster(loaded)
    missing = bill.missing(bom.held_refs(bundle.files), bom.STORAGE, bom.KUBESPHERE)
    if missing:
        print(f"warning: the bundle {config['artifact_bundle']} lacks {len(missing)} image(s) the cluster runs; "
              "their pods will not start:", file=err)
        for ref in missing:
            print(f"warning:   {ref}", file=err)

    directory = loaded.directory
    clusterdir.init(directory, hosts_ini)
    if not run_phases(directory, list(loaded.hosts), runner, out, clock):
        return EXIT_FAILED

    url = kubesphere.console_url(loaded)
    console_missing = [image.ref for image in bill.images if image.console and image.ref in missing]
    if console_missing:
        print(_not_running(missing, console_missing, config["artifact_bundle"]), file=out)
        return EXIT_NOT_RUNNING
    if not wait_for_console(url, args.wait, probe, clock, sleep, out):
        print("Kubernetes is installed and every phase converged, but KubeSphere is not running yet; see "
              "`kubectl -n kubesphere-system logs deploy/ks-installer`.", file=out)
        return EXIT_NOT_RUNNING
    text = kubesphere.banner(url, kubesphere.admin_password(directory, config["ks_admin_password"]))
    write_running(directory, text)
    print(text, end="", file=out)
    return EXIT_OK


def register(sub):
    parser = sub.add_parser("install", help="install Kubernetes and KubeSphere, phase by phase (the seed's install.sh)")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--multi-node", action="store_true", help="the hosts of HOSTS.ini")
    mode.add_argument("--all-in-one", action="store_true",
                      help="one host holding every role; without -i, this taskbox itself")
    mode.add_argument("--uninstall", action="store_true",
                      help="remove the cluster from the hosts of HOSTS.ini instead (saltsphere reset; asks first "
                           "unless --yes)")
    mode.add_argument("--add-nodes", nargs="*", metavar="HOST",
                      help="join the workers of HOSTS.ini that are not members yet (or the HOSTs named) to the "
                           "running cluster instead (saltsphere node add; asks first unless --yes)")
    parser.add_argument("-i", "--inventory", metavar="HOSTS_INI",
                        help="the cluster's hosts.ini (its vars.yml beside it)")
    parser.add_argument("--yes", action="store_true",
                        help="do not ask whether the storage is configured (with --uninstall: whether to reset; with "
                             "--add-nodes: whether to add)")
    parser.add_argument("--dry-run", action="store_true",
                        help="install nothing: say what the install would change (saltsphere plan; with --add-nodes: "
                             "saltsphere node add --dry-run)")
    parser.add_argument("--wait", type=int, default=DEFAULT_WAIT, metavar="SECONDS",
                        help=f"how long to wait for the KubeSphere console (default: {DEFAULT_WAIT})")
    parser.add_argument("--dir", default="allinone", metavar="DIR",
                        help="--all-in-one without -i: where hosts.ini and vars.yml for this taskbox are written "
                             "(default: ./allinone)")
    parser.set_defaults(func=install)

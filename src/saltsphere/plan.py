"""``saltsphere plan``: what an install would change, host by host and phase by phase, changing nothing.

The preflight (``salt-run state.orchestrate kubesphere.preflight``), then
every host's states at once under ``test=True`` (``salt-ssh '*' state.apply
test=True``: the same roles the orchestration's phases apply, each state
once); the states are told apart by their role, one table per phase in the
install's order (:mod:`saltsphere.planreport`), then the hosts and phases
that would change.  One run instead of a run per phase: every salt-ssh call
costs seconds before any state runs, and under ``test=True`` no phase waits
for an earlier one.

The hosts' pillar needs what the prepare step makes on the taskbox
(certificates, secrets, the signed package index, a bundle server), yet a plan
changes nothing there beyond Salt's own cache:

- a cluster directory that has its ``.saltsphere/`` (an installed cluster) is
  planned in place, only when the prepare step would make nothing there
  (:func:`saltsphere.prepare.would_make`); the bundle server it starts belongs
  to the plan's process and stops with the plan;
- without ``.saltsphere/`` (fresh hosts) the plan works on a throwaway copy of
  the cluster directory (hosts.ini, vars.yml, a Saltfile of its own) whose
  ``.saltsphere/`` the real prepare step makes: it asks the hosts before it
  makes a CA, so hosts that already hold one stop the plan as they would stop
  the install.  The copy is removed afterwards; the files it made are the ones
  the install's prepare step would make, and the plan lists them.
"""

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from saltsphere import cluster, clusterdir, installer, kubesphere, planreport, prepare, sshcall
from saltsphere.artifacts import serve
from saltsphere.errors import ActionableError
from saltsphere.problems import InvalidInput

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
# Every gate asks once under test=True: a phase's dry run takes seconds, not the install's minutes.
PHASE_TIMEOUT = 900


@dataclass
class Workspace:
    directory: Path
    throwaway: bool
    # What the install's prepare step would make in .saltsphere/ (relative paths).
    made: list = field(default_factory=list)


def salt_probe(directory, loaded):
    """``probe(paths)`` for the prepare step: the hosts asked through salt-ssh with the Salt config of ``directory``."""
    import salt.config

    opts = salt.config.master_config(str(Path(directory) / ".salt" / "etc" / "master"))
    return sshcall.fingerprint_probe(opts, loaded, opts.get("ignore_host_keys"))


def _state_dir(directory) -> Path:
    return Path(directory) / ".saltsphere"


@contextlib.contextmanager
def _served_for_the_plan(state):
    try:
        yield
    finally:
        serve.release(state, os.getpid())


@contextlib.contextmanager
def _in_place(loaded, probe_for):
    directory = Path(loaded.directory)
    made = prepare.would_make(loaded)
    if made:
        listing = ", ".join(made[:6]) + (f" and {len(made) - 6} more" if len(made) > 6 else "")
        raise ActionableError(
            f"the prepare step would make or change {len(made)} file(s) in {_state_dir(directory)} ({listing}), and a "
            "plan changes nothing on the taskbox. Run `salt-run saltsphere.prepare` in the cluster directory (it "
            "changes no host), then plan again.")
    clusterdir.init(directory, loaded.hosts_ini)
    with _served_for_the_plan(_state_dir(directory)):
        done = prepare.prepare(loaded, probe=probe_for(directory, loaded), owner_pid=os.getpid())
        if done.changed:
            raise ActionableError(f"{', '.join(done.changed)} changed in {_state_dir(directory)} while the plan "
                                  "started (another run preparing this cluster?); plan again once it is done")
        yield Workspace(directory, throwaway=False)


def _copy_private(source, target):
    target.write_bytes(Path(source).read_bytes())
    os.chmod(target, 0o600)


@contextlib.contextmanager
def _throwaway(loaded, probe_for):
    directory = Path(tempfile.mkdtemp(prefix="saltsphere-plan."))
    try:
        _copy_private(loaded.hosts_ini, directory / "hosts.ini")
        if os.path.isfile(loaded.vars_yml):
            _copy_private(loaded.vars_yml, directory / "vars.yml")
        copy = cluster.load(str(directory / "hosts.ini"))
        moved = sorted(name for name, entry in copy.roster().items() if entry != loaded.roster().get(name))
        if moved:
            raise ActionableError(
                f"{loaded.hosts_ini} names files relative to itself for {', '.join(moved)} (ansible_ssh_private_key_"
                "file); a plan on hosts without .saltsphere/ works on a copy of hosts.ini elsewhere: write those "
                "paths as absolute paths")
        clusterdir.init(directory, directory / "hosts.ini")
        with _served_for_the_plan(_state_dir(directory)):
            done = prepare.prepare(copy, probe=probe_for(directory, copy), owner_pid=os.getpid())
            yield Workspace(directory, throwaway=True, made=done.changed)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def workspace(loaded, probe_for=salt_probe):
    """The cluster directory the plan runs in (a context manager): the cluster's own, or a throwaway copy."""
    if _state_dir(loaded.directory).is_dir():
        return _in_place(loaded, probe_for)
    return _throwaway(loaded, probe_for)


def _run_phase(directory, phase):
    return installer.run_phase(directory, phase, timeout=PHASE_TIMEOUT, test=True)


def _run_states(directory):
    """Every host's states under ``test=True`` in one salt-ssh call: ``(returncode, stdout, stderr)``."""
    directory = Path(directory)
    argv = [installer.salt_ssh(), "--saltfile", str(directory / "Saltfile"), "--out=json", "--static", "*",
            "state.apply", "test=True"]
    return installer.run_group(argv, directory, PHASE_TIMEOUT)


def phase_targets(loaded) -> dict:
    """``{phase: [hosts]}``: the hosts each phase after the preflight applies its role to, as the top file does."""
    masters = [h.name for h in loaded.role_members("kube-master")]
    kubernetes = [name for name, h in loaded.hosts.items() if {"kube-master", "kube-node"} & set(h.roles)]
    etcd = [h.name for h in loaded.role_members("etcd")]
    every = [name for name in loaded.hosts if name in kubernetes or name in etcd]
    return {"os": every, "etcd": etcd, "containerd": kubernetes, "kubernetes": kubernetes, "network": kubernetes,
            "storage": kubernetes, "ks": masters[:1]}


def plan_phases(directory, hosts, runner=_run_phase, clock=time.monotonic, report=None, targets=None,
                states_runner=_run_states, announce=None) -> list:
    """The preflight, then every phase's dry run (a :class:`planreport.PhasePlan` each); ``report(plan)`` for each.

    A failed preflight ends the plan (as it ends the install); a phase that
    would fail does not hide the others.  ``targets`` ({phase: hosts}) places
    a host whose states did not run at all under the phases it belongs to;
    ``announce(seconds)`` is told how long the hosts' states took.
    """
    started = clock()
    returncode, stdout, stderr = runner(directory, "preflight")
    plans = [planreport.phase_plan("preflight", returncode, stdout, stderr, hosts, clock() - started)]
    if report:
        report(plans[0])
    if not plans[0].ok:
        return plans
    started = clock()
    returncode, stdout, stderr = states_runner(directory)
    if announce:
        announce(clock() - started)
    phases = planreport.states_plans(installer.PHASES[1:], returncode, stdout, stderr, hosts, targets or {})
    for plan in phases:
        plans.append(plan)
        if report:
            report(plan)
    return plans


def run(loaded, *, as_json=False, runner=_run_phase, states_runner=_run_states, probe_for=salt_probe,
        clock=time.monotonic, out=None, err=None) -> int:
    """The plan of ``loaded``, printed; 0 when it ran cleanly (changes or not), 1 when something would fail."""
    out, err = out or sys.stdout, err or sys.stderr
    hosts = list(loaded.hosts)
    total = len(installer.PHASES)

    took = {}

    def announce(seconds):
        took["states"] = seconds
        if not as_json:
            print(f"Every host's states under test=True, in one salt-ssh run: {seconds:.0f} s", file=out, flush=True)

    def report(plan):
        if not as_json:
            index = installer.PHASES.index(plan.phase) + 1
            print("\n".join(planreport.phase_lines(plan, index, total)), file=out, flush=True)

    try:
        with workspace(loaded, probe_for) as space:
            if not as_json:
                where = ("fresh hosts: on a throwaway copy of the cluster directory" if space.throwaway
                         else f"the cluster directory {space.directory}")
                print(f"Plan for {loaded.hosts_ini} ({where}); every state runs with test=True.", file=out,
                      flush=True)
            plans = plan_phases(space.directory, hosts, runner, clock, report, phase_targets(loaded),
                                states_runner, announce)
    except ActionableError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAILED
    if as_json:
        report_data = planreport.as_dict(plans, hosts, space.made, space.throwaway)
        report_data["states_seconds"] = round(took["states"], 1) if "states" in took else None
        print(json.dumps(report_data, indent=2), file=out)
    else:
        print("\n".join(planreport.summary_lines(plans, hosts, space.made, space.throwaway)), file=out)
    ok = len(plans) == total and all(plan.ok for plan in plans)
    return EXIT_OK if ok else EXIT_FAILED


def step_prefix(verb) -> str:
    """The start of the state IDs of ``kubesphere.<verb>``'s steps: ``kubesphere-node-add-`` for ``node add``."""
    return f"kubesphere-{verb.replace(' ', '-')}-"


def step_plans(prefix, steps, returncode, stdout, stderr, hosts=(), seconds=0.0) -> list:
    """A :class:`planreport.PhasePlan` for each of ``steps`` from one salt-run of a day-2 orchestration (every step
    under test=True).

    A state belongs to the step its ID names (``<prefix><step>`` or
    ``<prefix><step>-...``, :func:`step_prefix`);
    one no step names (the prepare step) to the first step after the
    preflight.  Each step's time is the sum of its states' durations.  A run
    that printed nothing readable is the first step's failure; the steps an
    earlier step's failure kept from running (failhard) say so.
    """
    try:
        data = installer.parse_json_stream(stdout)
    except ValueError:
        data = {}
    returners = data.get("data", data) if isinstance(data, dict) else {}
    if returncode is None or not isinstance(returners, dict) or not any(
            isinstance(states, dict) for states in returners.values()):
        return [planreport.phase_plan(steps[0], returncode, stdout, stderr, hosts, seconds)]
    by_length = sorted(steps, key=len, reverse=True)
    fallback = next((step for step in steps if step != "preflight"), steps[0])
    split = {step: {} for step in steps}
    for returner, states in returners.items():
        if not isinstance(states, dict):
            continue
        for key, state in states.items():
            sid = str(state.get("__id__", "")) if isinstance(state, dict) else ""
            step = next((step for step in by_length if sid == f"{prefix}{step}" or sid.startswith(f"{prefix}{step}-")),
                        fallback)
            split[step].setdefault(returner, {})[key] = state
    plans, stopped = [], None
    for step in steps:
        if not split[step]:
            if stopped or returncode != 0:
                why = f"{planreport.NOT_RUN}step {stopped} would fail" if stopped else \
                    f"{planreport.NOT_RUN}salt-run exited {returncode}: {(stderr or '').strip()[-500:]}"
                plans.append(planreport.PhasePlan(step, installer.PhaseResult(ok=False, comment=why), {}, None))
            else:
                plans.append(planreport.PhasePlan(step, installer.PhaseResult(ok=True, comment="nothing to do"), {},
                                                  0.0))
            continue
        failed = any(state.get("result") is False for states in split[step].values() for state in states.values()
                     if isinstance(state, dict))
        took = sum(float(state.get("duration") or 0) for states in split[step].values() for state in states.values()
                   if isinstance(state, dict)) / 1000
        plans.append(planreport.phase_plan(step, 1 if failed else 0, json.dumps(
            {"data": split[step], "retcode": 1 if failed else 0}), "", hosts, took))
        if failed and not stopped:
            stopped = step
    return plans


def run_steps(loaded, verb, steps, targets, *, runner, clock=time.monotonic, out=None, err=None) -> int:
    """The dry run of a day-2 verb: its orchestration once, every one of its ``steps`` under test=True
    (``runner(directory, None)``).

    One table per step, then the hosts that would change (a failed preflight
    ends it, as it ends the verb); 0 when every step ran cleanly (changes or not), 1 when something would
    fail.  The cluster directory is used in place, as for an installed cluster's plan.
    """
    out, err = out or sys.stdout, err or sys.stderr
    hosts = list(loaded.hosts) + [name for name in targets if name not in loaded.hosts]
    if not _state_dir(loaded.directory).is_dir():
        print(f"error: {_state_dir(loaded.directory)} does not exist: {verb} works on an installed cluster, and "
              "this hosts.ini is not the one it was installed from", file=err)
        return EXIT_FAILED
    plans = []
    try:
        with _in_place(loaded, salt_probe):
            print(f"Dry run of {verb} {', '.join(targets)} on {loaded.hosts_ini}; every state runs with test=True.",
                  file=out, flush=True)
            started = clock()
            returned = runner(loaded.directory, None)
            for index, step_plan in enumerate(step_plans(step_prefix(verb), steps, *returned, hosts,
                                                                 clock() - started), 1):
                plans.append(step_plan)
                print("\n".join(planreport.phase_lines(step_plan, index, len(steps))), file=out, flush=True)
                if step_plan.phase == "preflight" and not step_plan.ok:
                    break
    except ActionableError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAILED
    print("\n".join(planreport.steps_summary_lines(plans)), file=out)
    return EXIT_OK if all(plan.ok for plan in plans) and len(plans) == len(steps) else EXIT_FAILED


def load(hosts_ini, vars_yml=None, err=None):
    """The validated cluster, or None after printing every problem (exit 2)."""
    err = err or sys.stderr
    try:
        loaded = cluster.load(hosts_ini, vars_yml)
        kubesphere.release(loaded.config.values)
    except InvalidInput as exc:
        for problem in exc.problems.warnings:
            print(f"warning: {problem}", file=err)
        print(exc.render(), file=err)
        return None
    except ActionableError as exc:
        print(f"error: {exc}", file=err)
        return None
    for problem in loaded.warnings:
        print(f"warning: {problem}", file=err)
    return loaded


def cmd_plan(args, **kwargs) -> int:
    from saltsphere.cli import default_inventory

    loaded = load(args.inventory or default_inventory(), args.config, kwargs.get("err"))
    if loaded is None:
        return EXIT_INVALID
    return run(loaded, as_json=args.json, **kwargs)


def register(sub):
    parser = sub.add_parser("plan", help="what an install would change on every host, phase by phase; changes nothing")
    parser.add_argument("-i", "--inventory", default=None, metavar="HOSTS_INI",
                        help="the cluster's hosts.ini (default: conf/hosts.ini, or hosts.ini in the current directory)")
    parser.add_argument("-c", "--config", default=None, metavar="VARS_YML",
                        help="the cluster's vars.yml (default: vars.yml beside the inventory)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(func=cmd_plan)

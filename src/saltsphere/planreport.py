"""What a dry run of the orchestration would do, host by host and phase by phase, for people and as JSON.

Read from ``salt-run state.orchestrate kubesphere.preflight test=True`` and
from one ``salt-ssh '*' state.apply test=True``, whose states are told apart
by their role (``__sls__``: ``kubernetes.kubelet`` is the kubernetes phase).  A
state *would change* when it returned ``result: None`` (Salt's answer under
``test=True`` for something it would do: a service it would start, a command
it would run) or predicted changes.  Only names reach the report: state ids,
services, files; never what a change holds (a file's diff, a manifest's
objects), so a secret file shows its path only.
"""

import json
from dataclasses import dataclass, field

from saltsphere import installer

# States that write the file their ``name`` names, and those that remove it.
WRITERS = {("file", "managed"), ("file", "replace"), ("file", "directory"), ("file", "symlink"),
           ("saltsphere_bundle", "fetched"), ("saltsphere_kubernetes", "kubeadm_config"),
           ("saltsphere_network", "cni_bridge")}
REMOVERS = {("file", "absent")}
_REQUISITE = "One or more requisite failed"
COMMENT_MAX = 600


@dataclass
class HostPlan:
    states: list = field(default_factory=list)      # ids of the states that would change, in run order
    services: list = field(default_factory=list)    # services a service.* state would start, restart or enable
    files: list = field(default_factory=list)       # files that would be written ("... (removed)" for removals)
    failures: list = field(default_factory=list)    # [(state id, comment)]

    def as_dict(self) -> dict:
        return {"changes": len(self.states), "states": self.states, "services": self.services, "files": self.files,
                "failures": [{"state": sid, "comment": comment} for sid, comment in self.failures]}


@dataclass
class PhasePlan:
    phase: str
    result: installer.PhaseResult
    hosts: dict = field(default_factory=dict)       # {host: HostPlan}
    # None: planned in the same run as the phase before it.
    seconds: float | None = 0.0

    @property
    def ok(self) -> bool:
        return self.result.ok and not any(host.failures for host in self.hosts.values())

    @property
    def changing(self) -> list:
        return [name for name, host in self.hosts.items() if host.states]

    def as_dict(self) -> dict:
        return {"phase": self.phase, "ok": self.ok,
                "seconds": round(self.seconds, 1) if self.seconds is not None else None,
                "comment": self.result.comment, "preflight_failures": list(self.result.rows),
                "hosts": {name: host.as_dict() for name, host in self.hosts.items()}}


def _tag(key):
    """``(module, function)`` of a state return's key, ``module_|-id_|-name_|-function``."""
    parts = str(key).split("_|-")
    return (parts[0], parts[-1]) if len(parts) >= 4 else (None, None)


def _why_no_states(states) -> str:
    """What a host returned instead of state results (salt-ssh's error, a render failure)."""
    if isinstance(states, (list, tuple)):
        return "; ".join(str(item) for item in states if item) or "no return"
    if isinstance(states, dict):
        return str(states.get("_error") or states.get("stderr") or json.dumps(states)[:COMMENT_MAX]).strip()
    return str(states or "no return")


def would_change(state) -> bool:
    return state.get("result") is None or bool(state.get("changes"))


def host_plan(states, plan=None) -> HostPlan:
    """Add one host's state returns (a dict of Salt's state results) to ``plan``."""
    plan = plan or HostPlan()
    entries = sorted(((key, s) for key, s in states.items() if isinstance(s, dict) and "result" in s),
                     key=lambda pair: pair[1].get("__run_num__", 0)) if isinstance(states, dict) else []
    if not entries:
        plan.failures.append(("(the host)", _why_no_states(states)[:COMMENT_MAX]))
        return plan
    failing = []
    for key, state in entries:
        sid, name = state.get("__id__", key), str(state.get("name", ""))
        if state["result"] is False:
            failing.append((sid, str(state.get("comment", "")).strip()[:COMMENT_MAX]))
            continue
        if not would_change(state):
            continue
        if sid not in plan.states:
            plan.states.append(sid)
        kind = _tag(key)
        if kind[0] == "service" and name not in plan.services:
            plan.services.append(name)
        elif kind in WRITERS or kind in REMOVERS:
            removed = kind in REMOVERS or "removed" in {str(v) for v in (state.get("changes") or {}).values()}
            shown = f"{name} (removed)" if removed else name
            if shown not in plan.files:
                plan.files.append(shown)
    own = [pair for pair in failing if not pair[1].startswith(_REQUISITE)]
    plan.failures += own or failing[:1]
    return plan


def phase_plan(phase, returncode, stdout, stderr, hosts=(), seconds=0.0) -> PhasePlan:
    """One phase's dry run: ``(returncode, stdout, stderr)`` of salt-run, the cluster's ``hosts``."""
    result = installer.outcome(returncode, stdout, stderr, hosts=hosts)
    try:
        data = installer.parse_json_stream(stdout)
    except ValueError:
        data = {}
    plans = {name: HostPlan() for name in (*result.done, *result.failed)}
    for returner in (data.get("data", data) or {}).values():
        if not isinstance(returner, dict):
            continue
        steps = sorted((s for s in returner.values() if isinstance(s, dict)), key=lambda s: s.get("__run_num__", 0))
        for step in steps:
            for host, states in ((step.get("changes") or {}).get("ret") or {}).items():
                plans[host] = host_plan(states, plans.get(host))
    ordered = {name: plans[name] for name in hosts if name in plans}
    ordered.update({name: plan for name, plan in plans.items() if name not in ordered})
    return PhasePlan(phase, result, ordered, seconds)


def phase_of(state, phases):
    role = str(state.get("__sls__", "")).split(".", 1)[0]
    return role if role in phases else None


def _states_failed(returncode, stdout, stderr, what) -> str:
    tail = (stderr or stdout or "").strip()[-1500:]
    if returncode is None:
        return tail
    return f"{what} printed no result (exit {returncode}): {tail}"


def states_plans(phases, returncode, stdout, stderr, hosts=(), targets=None) -> list:
    """A :class:`PhasePlan` for each of ``phases`` from one run of every host's states under ``test=True``.

    Each state counts under its role's phase (states of no phase's role, such
    as the wipe of salt-ssh's run files, are not shown).  A host that returned
    no states at all (unreachable, a render error) is a failure of the first
    phase whose ``targets`` ({phase: hosts}) name it.
    """
    targets = targets or {}
    try:
        data = installer.parse_json_stream(stdout)
    except ValueError:
        data = {}
    if not data or returncode is None:
        result = installer.PhaseResult(ok=False, comment=_states_failed(returncode, stdout, stderr, "salt-ssh"))
        return [PhasePlan(phases[0], result, {}, None)] + [
            PhasePlan(phase, installer.PhaseResult(ok=False, comment="not planned: " + result.comment), {}, None)
            for phase in phases[1:]]
    split = {phase: {} for phase in phases}
    for host, states in data.items():
        entries = {key: s for key, s in states.items() if isinstance(s, dict) and "result" in s} \
            if isinstance(states, dict) else {}
        if not entries:
            phase = next((p for p in phases if host in targets.get(p, ())), phases[0])
            split[phase][host] = host_plan(states)
            continue
        by_phase = {}
        for key, state in entries.items():
            phase = phase_of(state, phases)
            if phase:
                by_phase.setdefault(phase, {})[key] = state
        for phase, own in by_phase.items():
            split[phase][host] = host_plan(own)
    plans = []
    for phase in phases:
        found = split[phase]
        ordered = {name: found[name] for name in hosts if name in found}
        ordered.update({name: plan for name, plan in found.items() if name not in ordered})
        failed = tuple(name for name, plan in ordered.items() if plan.failures)
        first = next((f"{name}: {sid}: {comment}" for name in failed for sid, comment in ordered[name].failures), "")
        result = installer.PhaseResult(ok=not failed, done=tuple(n for n in ordered if n not in failed),
                                       failed=failed, comment=first)
        # One run for every phase: its time is the run's, not the phase's.
        plans.append(PhasePlan(phase, result, ordered, None))
    return plans


# --- for people ------------------------------------------------------------------------------------------


def _table(rows) -> list:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["    " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + str(row[-1])
            for row in rows]


def phase_lines(plan: PhasePlan, index, total) -> list:
    """``[3/8] etcd  ok  1 of 1 host(s) would change  4 s``, the phase's table, and its failures with their fixes."""
    verdict = "ok" if plan.ok else "FAILED"
    if plan.phase == "preflight":
        what = f"{len(plan.result.done)} host(s) passed, {len(plan.result.failed)} failed"
    else:
        what = f"{len(plan.changing)} of {len(plan.hosts)} host(s) would change"
    took = f"   {plan.seconds:.0f} s" if plan.seconds is not None else ""
    head = f"[{index}/{total}] {plan.phase:<11} {verdict:<7} {what}{took}"
    lines = [head]
    if plan.hosts and plan.phase != "preflight":
        rows = [("HOST", "CHANGES", "SERVICES", "FILES")]
        rows += [(name, len(host.states), ", ".join(host.services) or "-", ", ".join(host.files) or "-")
                 for name, host in plan.hosts.items()]
        lines += _table(rows)
    for name, host in plan.hosts.items():
        for sid, comment in host.failures:
            lines.append(f"    would FAIL on {name}: {sid}: {comment}")
    if not plan.result.ok and not any(host.failures for host in plan.hosts.values()):
        lines += ["    " + line for line in installer.failure_message(plan.phase, plan.result).splitlines()[1:-1]]
    return lines


def changing_hosts(plans) -> dict:
    """``{host: [phases in which it would change]}``, in the order hosts first appear."""
    found = {}
    for plan in plans:
        for name in plan.changing:
            found.setdefault(name, []).append(plan.phase)
    return found


def summary_lines(plans, hosts, made, throwaway) -> list:
    changing = changing_hosts(plans)
    lines = ["", "Would change:" if changing else "Nothing would change on any host."]
    lines += [f"  {name}: {', '.join(phases)}" for name, phases in changing.items()]
    unchanged = [name for name in hosts if name not in changing]
    if changing and unchanged:
        lines.append(f"No change on: {', '.join(unchanged)}")
    where = ("its .saltsphere/ (made for this plan in a throwaway copy of the cluster directory, removed again)"
             if throwaway else ".saltsphere/")
    if made:
        lines.append(f"On the taskbox the install's prepare step would make {len(made)} file(s) in {where}:")
        lines += [f"  {path}" for path in made]
    else:
        lines.append("On the taskbox the install's prepare step has nothing to make.")
    failed = [plan.phase for plan in plans if not plan.ok]
    lines.append(f"Would FAIL in: {', '.join(failed)}." if failed else
                 "No state would fail. Nothing was changed (the plan ran every state with test=True).")
    return lines


# The comment of a step a dry run did not reach (an earlier step would fail).
NOT_RUN = "not run: "


def steps_summary_lines(plans, ran="every state") -> list:
    """The end of a day-2 dry run: the hosts that would change, and whether a state would fail."""
    changing = changing_hosts(plans)
    lines = ["", "Would change:" if changing else "Nothing would change on any host."]
    lines += [f"  {name}: {', '.join(phases)}" for name, phases in changing.items()]
    failed = [plan.phase for plan in plans if not plan.ok and not plan.result.comment.startswith(NOT_RUN)]
    unplanned = [plan.phase for plan in plans if not plan.ok and plan.phase not in failed]
    lines.append(f"Would FAIL in: {', '.join(failed)}." if failed else
                 f"No state would fail. Nothing was changed ({ran} ran with test=True).")
    if unplanned:
        lines.append(f"Not planned (an earlier step would fail): {', '.join(unplanned)}.")
    return lines


def as_dict(plans, hosts, made, throwaway) -> dict:
    return {"ok": all(plan.ok for plan in plans), "phases": [plan.as_dict() for plan in plans],
            "changing": changing_hosts(plans), "unchanged": [h for h in hosts if h not in changing_hosts(plans)],
            "taskbox": {"would_make": list(made), "throwaway_copy": throwaway}}

"""Whether a run of the whole install would change anything, asked before its phases run.

A converged cluster spends most of a no-op run in the phases' salt-ssh calls:
each step starts Salt on its hosts and compiles their pillar before any state
runs.  Once a full run has completed (:func:`record` writes
``.saltsphere/converged``), the next one first asks every host's states under
``test=True`` in one salt-ssh call, as ``saltsphere plan`` does; when no host
would change, the phases are skipped.  Otherwise, and always before the first
complete run, every phase runs as usual.

The record only decides whether the question is worth asking: the answer
comes from the hosts every time.  A host that cannot answer, or whose states
would fail, means the phases run (and report the failure).  Only names leave
this module: hosts and phases, never what a state would write.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from saltsphere import installer, planreport

RECORD = "converged"
RECORD_TEXT = ("Every phase of the install completed on this cluster; a later run first asks the hosts whether "
               "anything would change.\n")


def record_path(cluster_directory) -> Path:
    return Path(cluster_directory) / ".saltsphere" / RECORD


def recorded(cluster_directory) -> bool:
    return record_path(cluster_directory).is_file()


def record(cluster_directory) -> bool:
    """Write the record of a completed run; True when it was not there before."""
    path = record_path(cluster_directory)
    if path.is_file() and path.read_text() == RECORD_TEXT:
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(RECORD_TEXT)
    path.chmod(0o600)
    return True


def forget(cluster_directory) -> bool:
    """Remove the record (the hosts are being reset); True when there was one."""
    path = record_path(cluster_directory)
    if path.is_file():
        path.unlink()
        return True
    return False


@dataclass
class Verdict:
    changing: dict = field(default_factory=dict)    # {host: [phases that would change]}
    unplanned: dict = field(default_factory=dict)   # {host: why its states could not be planned}

    @property
    def unchanged(self) -> bool:
        return not self.changing and not self.unplanned

    def changes(self) -> dict:
        found = {}
        if self.changing:
            found["would change"] = self.changing
        if self.unplanned:
            found["not planned"] = self.unplanned
        return found

    def summary(self) -> str:
        parts = []
        if self.changing:
            parts.append("would change: " + "; ".join(f"{host} ({', '.join(phases)})"
                                                      for host, phases in self.changing.items()))
        if self.unplanned:
            parts.append("could not be planned: " + "; ".join(f"{host} ({why})"
                                                               for host, why in self.unplanned.items()))
        return ", ".join(parts)


def verdict(returns, hosts) -> Verdict:
    """Read ``{host: state returns or error}`` of one ``state.apply test=True``; every one of ``hosts`` is judged."""
    phases = installer.PHASES[1:]
    result = Verdict()
    for host in hosts:
        states = returns.get(host, "no answer")
        plan = planreport.host_plan(states)
        if plan.failures:
            sid, why = plan.failures[0]
            result.unplanned[host] = f"{sid}: {why}"[:planreport.COMMENT_MAX]
            continue
        touched = []
        for state in states.values():
            if isinstance(state, dict) and "result" in state and planreport.would_change(state):
                phase = planreport.phase_of(state, phases)
                if phase and phase not in touched:
                    touched.append(phase)
        if touched:
            result.changing[host] = sorted(touched, key=phases.index)
    return result


def ask_hosts(opts, loaded) -> dict:
    """Every host's states under ``test=True`` in one salt-ssh call (Salt's ``opts``): {host: returns or error}."""
    from saltsphere import sshcall

    return sshcall.call(opts, loaded, "state.apply", kwarg={"test": True}, states=True)


def check(loaded, opts, clock=time.monotonic, ask=ask_hosts):
    """``(verdict, seconds)``: the hosts of ``loaded`` asked whether their states would change anything."""
    started = clock()
    returns = ask(opts, loaded)
    return verdict(returns, list(loaded.hosts)), clock() - started

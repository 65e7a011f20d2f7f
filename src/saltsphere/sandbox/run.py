"""Run external commands with a time limit and turn failures into SandboxError."""

import subprocess

from saltsphere.sandbox import cgroups
from saltsphere.sandbox.errors import SandboxError


def run(cmd, step, timeout=60, check=True, input=None, env=None):
    """Run ``cmd`` (a list) and return the CompletedProcess with text output.

    ``step`` says what the command was for, so that a failure reads as
    "<step>: <command> failed (exit N): <stderr tail>" rather than a traceback.
    """
    try:
        proc = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise SandboxError(f"{step}: {cmd[0]} is not installed ({exc.strerror})") from None
    except subprocess.TimeoutExpired:
        raise SandboxError(f"{step}: {' '.join(cmd)} did not finish within {timeout} s") from None
    if check and proc.returncode != 0:
        raise SandboxError(f"{step}: {' '.join(cmd)} failed (exit {proc.returncode}): {_tail(proc.stderr or proc.stdout)}")
    return proc


def _tail(text, lines=5):
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "no output"


def detach(cmd, step, log_path, cgroup_dirs):
    """Start ``cmd`` in ``cgroup_dirs`` as a daemon, its output appended to ``log_path``.

    ``setsid --fork`` leaves the daemon parented by init rather than by the
    calling process, so a command that exits (or a test process that goes on)
    never carries a zombie of a host it started; the cgroup is the handle.
    """
    cgroups.create(cgroup_dirs)
    with open(log_path, "ab") as log:
        try:
            starter = subprocess.Popen(
                ["setsid", "--fork", *cmd], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=lambda: cgroups.join(cgroup_dirs),
            )
        except FileNotFoundError:
            raise SandboxError(f"{step}: setsid (util-linux) is not installed") from None
    try:
        starter.wait(timeout=10)
    except subprocess.TimeoutExpired:
        starter.kill()
        raise SandboxError(f"{step}: setsid did not return within 10 s") from None

"""External commands for the builder: every one with a time limit, its output kept in a log file."""

import os
import signal
import subprocess
import threading
import time

from saltsphere.artifacts.errors import ArtifactError

# How often a long command reports that it is still alive, so an operator can tell slow from stuck.
HEARTBEAT_SECONDS = 60


def run(cmd, step, *, timeout, log_file, log, cwd=None, env=None, progress=None, capture=False):
    """Run ``cmd``, appending its output to ``log_file``; return its output if ``capture``.

    ``progress(line)`` picks lines worth showing the operator; they go to ``log``.
    The command runs in its own session so that a timeout ends its children
    (go, compilers) too, not only the top process.
    """
    started = time.monotonic()
    captured = []
    with open(log_file, "a", buffering=1, encoding="utf-8", errors="replace") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n")
        out.flush()
        try:
            proc = subprocess.Popen(
                [str(part) for part in cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                start_new_session=True,
            )
        except FileNotFoundError:
            raise ArtifactError(f"{step}: {cmd[0]} is not installed") from None

        def pump():
            for line in proc.stdout:
                out.write(line)
                captured.append(line)
                if progress and progress(line):
                    log(f"  {line.rstrip()}")
            out.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        deadline = started + timeout
        next_beat = started + HEARTBEAT_SECONDS
        while True:
            try:
                proc.wait(timeout=max(0.1, min(deadline, next_beat) - time.monotonic()))
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                if now >= deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    reader.join(5)
                    raise ArtifactError(
                        f"{step}: {' '.join(map(str, cmd))} did not finish within {timeout} s; see {log_file}"
                    ) from None
                if now >= next_beat:
                    log(f"  ... {step}: still running, {int(now - started) // 60} min so far")
                    next_beat += HEARTBEAT_SECONDS
        reader.join()
    if proc.returncode != 0:
        tail = " | ".join(line.strip() for line in captured[-8:] if line.strip()) or "no output"
        raise ArtifactError(f"{step}: {' '.join(map(str, cmd))} failed (exit {proc.returncode}): {tail}; "
                            f"full output in {log_file}")
    return "".join(captured) if capture else None

"""What /proc tells about processes: whether one still runs, and which one listens on a TCP port."""

import ipaddress
import os
import sys

_LISTEN = "0A"


def start_time(pid: int):
    """When ``pid`` started (clock ticks since boot), None once it has exited (a zombie has exited)."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(pid, started) -> bool:
    """``pid`` still runs and is the process that started at ``started``, not a later one given the same pid."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return started is not None and start_time(pid) == started


def cmdline(pid: int) -> list:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [arg.decode(errors="replace") for arg in handle.read().split(b"\0") if arg]
    except OSError:
        return []


def _decode(hex_address: str):
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        # The kernel prints each 32-bit word of the address in host byte order.
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def _listening_inodes(address: str, port: int) -> set:
    ip = ipaddress.ip_address(address)
    # A wildcard listener takes the port on every address, a dual-stack "::" one on IPv4 ones too.
    covering = {ip, ipaddress.ip_address("::")}
    if ip.version == 4:
        covering |= {ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address(f"::ffff:{ip}")}
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_address, local_port = fields[1].split(":")
            if fields[3] == _LISTEN and int(local_port, 16) == port and _decode(local_address) in covering:
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def port_holder(address: str, port: int):
    """``(pid, description)`` of the process listening on ``port`` towards ``address``.

    ``(None, "another program")`` when /proc does not tell, as for another
    user's process, whose descriptors cannot be read.
    """
    inodes = _listening_inodes(address, port)
    if inodes:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fds = os.listdir(f"/proc/{entry.name}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    link = os.readlink(f"/proc/{entry.name}/fd/{fd}")
                except OSError:
                    continue
                if link in inodes:
                    return int(entry.name), describe(int(entry.name))
    return None, "another program"


def describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            comm = handle.read().strip()
    except OSError:
        comm = "a program"
    command = " ".join(cmdline(pid))
    if len(command) > 120:
        command = command[:117] + "..."
    return f"{comm} (pid {pid}: {command})" if command else f"{comm} (pid {pid})"

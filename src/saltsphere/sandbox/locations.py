"""Where the sandbox keeps its cache and its per-sandbox state on the taskbox."""

from pathlib import Path

# The base rootfs outlives every sandbox; it is rebuilt only when its recipe changes.
CACHE_ROOT = Path("/var/cache/saltsphere/rootfs")
# One directory per sandbox name, removed whole by `down`.
STATE_ROOT = Path("/var/lib/saltsphere/sandbox")

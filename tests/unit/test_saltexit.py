"""Objects in reference cycles are finalized at exit while imports still work."""

import subprocess
import sys

import pytest

# The cycle outlives the collections before teardown (here: the automatic
# collector is off), as Salt's clients do after state.orchestrate.
PROGRAM = """
import gc
import sys
gc.disable()
{register}

class Client:
    def __del__(self):
        # What Salt's MasterMinion.destroy needs: sys.path to load its returners.
        sys.stdout.write("finalized with sys.path\\n" if sys.path is not None else "finalized too late\\n")
        sys.stdout.flush()

def leave_a_cycle():
    client = Client()
    client.self = client

leave_a_cycle()
"""


@pytest.mark.parametrize("register, expected", [
    ("from saltsphere import saltexit; saltexit.register(); saltexit.register()", "finalized with sys.path"),
    ("", "finalized too late"),
])
def test_cycles_are_collected_before_the_interpreter_tears_down(register, expected):
    out = subprocess.run([sys.executable, "-c", PROGRAM.format(register=register)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.strip() == expected

"""`python -m saltsphere.sandbox ...`: the sandbox commands without the rest of the CLI."""

import argparse
import sys

from saltsphere.sandbox import register


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m saltsphere.sandbox")
    register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

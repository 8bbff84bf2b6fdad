"""``python -m flopscope ...``: the same command line as the ``flopscope`` binary."""

import sys

from ._flopscope import _cli


def main() -> int:
    return _cli(["flopscope", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())

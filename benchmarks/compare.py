"""Print the per-benchmark ratios of two result files; it reports and never fails on timing.

    python benchmarks/compare.py A.json B.json

Reads pytest-benchmark's ``--benchmark-json`` files and ``zoo bench --json`` rows
(the same as ``zoo bench --compare A.json B.json``).
"""

import sys

from zoo.benchmark import print_comparison
from zoo.errors import ZooError


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        print_comparison(*argv)
    except ZooError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

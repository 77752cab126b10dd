"""Print the per-benchmark ratios of two result files; it reports and never fails on timing.

    python benchmarks/compare.py A.json B.json

The same as ``zoo bench compare A.json B.json``, which it runs; kept for scripts that
call it (.ci/run). The suite itself uses only ``zoo.benchmark.measure`` and ``zoo.benchmark.settings``.
"""

import sys

from zoo.cli import cli

if __name__ == "__main__":
    cli(["bench", "compare", *sys.argv[1:]], prog_name="zoo")

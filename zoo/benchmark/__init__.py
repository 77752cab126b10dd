"""``zoo bench``: training and inference throughput of registered backbones, without data.

- ``settings``: its vocabulary: modes, precisions, row keys, failed rows;
- ``measure``: building one backbone as ``zoo compare`` trains it and timing its steps
  (``run_bench``, ``build_model``, ``Settings``, ``ROW_KEYS``); all that ``benchmarks/`` uses;
- ``backends``: the same bench once per Keras backend, each in a subprocess;
- ``files``: writing rows, reading two result files and their B/A ratios.

The commands and their tables are the command line's (zoo/cli/bench.py). The package is
``zoo.benchmark``, not ``zoo.bench``, so that it never shadows the ``zoo.bench`` function
(zoo/api.py). Nothing is imported here, so that importing ``zoo.benchmark.measure`` loads none
of the command code.
"""

"""One trial's work: a trial as plain data (``trials``), the candidates it tries (``tuning``),
frozen features extracted once and kept (``features``, ``store``), the fine-tuning protocol
(``harness``) and the Keras training it drives (``fitting``), the linear-probe protocol
(``linear_probe``), the rank probe's scores of pooled features (``probe``), what a trial found
on its test split (``evaluation``) and its step timing (``timing``).

A new protocol, optimizer or training option goes here; what it reports goes in ``zoo.core.rows``.
"""

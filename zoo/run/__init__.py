"""Running many trials: the plan, checked before any work (``plan``), one trial wherever it runs
(``runner``), where trials run (``executors``: local, process, Ray; ``reaper`` ends Ray if zoo is
killed), the loop compare and rank share (``loop``), and the two runs themselves (``comparison``
for ``zoo compare``, ``ranking`` for ``zoo rank`` and ``--top``).

A new executor goes in ``executors``; a new command that runs trials plans with ``plan`` and
runs through ``loop``.
"""

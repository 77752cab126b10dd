"""What a run leaves for people to read: the results frames and rich tables (``report``), ties
with the best (``significance``), how well rank scores ranked fine-tuned accuracy
(``agreement``), the images a backbone got wrong (``mistakes``), plots (``plots``),
``report.html`` (``html_report``, ``templates/``), MLflow and TensorBoard (``tracking``), the run
folder's files and what ``--resume`` reads back (``run_folder``), and the folder held by one run
(``output``).

A new report figure goes in ``plots`` (and ``html_report`` to show it); a new result file in
``run_folder``.
"""

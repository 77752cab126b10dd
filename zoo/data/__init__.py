"""Images as datasets: one file decoded as a backbone sees it (``decode``), TFRecord shards read
one record at a time (``records``), a folder of files as a streamed description (``sources``),
and ``--dataset`` parsed, loaded and split into train, validation and test (``datasets``).

A new dataset format goes here, producing ``zoo.ImageFiles`` (streamed) or ``zoo.ImageData``
(held in memory); a plugin then registers it as a ``zoo.Dataset`` card.
"""

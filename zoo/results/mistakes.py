"""The images a backbone got wrong, for report.html: its most confident mistakes on the test split
(fastai's ``plot_top_losses`` shows them the same way) and the confusions that differ most
between the two best backbones."""

from __future__ import annotations

import base64
import io

import numpy as np

from ..data.sources import ImageFiles

THUMBNAIL = 96  # px, the side of a thumbnail on the page


def top_losses(predictions: dict, n: int = 16) -> list[dict]:
    """The ``n`` test images predicted wrong with the highest confidence, most confident first:
    ``{index, path, label, predicted, confidence}`` each, from predictions.csv's columns."""
    columns = list(predictions)
    rows = [dict(zip(columns, values)) for values in zip(*predictions.values())]
    wrong = [row for row in rows if row["label"] != row["predicted"]]
    return sorted(wrong, key=lambda row: -float(row["confidence"]))[:n]


def confusion_differences(first: dict, second: dict, n: int = 8) -> list[dict]:
    """The pairs (true class, predicted class, true != predicted) whose counts differ most between
    two trials' confusion matrices on the same test images (``{classes, matrix}`` each):
    ``{true, predicted, first, second}``, the largest difference first, pairs that differ only."""
    a, b = np.asarray(first["matrix"]), np.asarray(second["matrix"])
    if a.shape != b.shape or list(first["classes"]) != list(second["classes"]):
        return []
    difference = np.abs(a - b)
    np.fill_diagonal(difference, 0)
    order = np.argsort(-difference, axis=None, kind="stable")[:n]
    pairs = [np.unravel_index(i, a.shape) for i in order]
    return [{"true": first["classes"][t], "predicted": first["classes"][p], "first": int(a[t, p]),
             "second": int(b[t, p])} for t, p in pairs if difference[t, p] > 0]


def thumbnail(data, index: int) -> str | None:
    """Test image ``index`` of ``data`` (``ImageData`` arrays or ``ImageFiles``) as a base64 PNG,
    ``THUMBNAIL`` px on its longer side, for an <img> on the page; None when it cannot be had."""
    from PIL import Image

    try:
        if isinstance(data, ImageFiles):
            pixels = data.view("test").decode([index], THUMBNAIL, "pad")[0]
        else:
            pixels = np.asarray(data.x_test[index])
    except Exception:  # a file gone since the run: the page shows the rest
        return None
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    if max(image.size) < THUMBNAIL:  # CIFAR's 32 px, enlarged so that a person can see them
        scale = THUMBNAIL / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.NEAREST)
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()

"""The backbone card: what zoo knows about a backbone before it builds it (like timm's model cards)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

POOLINGS = ("flatten", "avg", "max")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Backbone:
    """A backbone's card. Plugins register one per backbone through ``register_backbones``.

    ``build(input_shape, weights)`` returns the backbone without its classifier top;
    ``weights`` is ``"imagenet"``, ``None`` or a path to a weights file.
    ``freeze_layer`` names the first layer that stays trainable under the
    recommended freeze (every layer before it is frozen); ``None`` freezes it all.
    """

    name: str
    build: Callable[[Tuple[int, int, int], Optional[str]], object]
    preprocess: Callable
    min_input_size: int
    default_input_size: int
    freeze_layer: Optional[str]
    pooling: str
    description: str = ""
    reference: str = ""

    def problems(self) -> list[str]:
        """What is wrong with this card, as short phrases (empty when it is valid)."""
        found = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            found.append(f"name {self.name!r} must be lower case letters, digits, '_', '-' or '.'")
        for field in ("min_input_size", "default_input_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                found.append(f"{field} must be an integer >= 1, not {value!r}")
        if not found and self.default_input_size < self.min_input_size:
            found.append("default_input_size must not be below min_input_size")
        if self.pooling not in POOLINGS:
            found.append(f"pooling must be one of {', '.join(POOLINGS)}, not {self.pooling!r}")
        if self.freeze_layer is not None and not isinstance(self.freeze_layer, str):
            found.append(f"freeze_layer must be a layer name or None, not {self.freeze_layer!r}")
        for field in ("build", "preprocess"):
            if not callable(getattr(self, field)):
                found.append(f"{field} must be callable")
        return found

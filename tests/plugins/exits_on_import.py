"""A plugin that calls sys.exit at import: zoo must record it as broken and carry on."""

import sys

sys.exit(3)

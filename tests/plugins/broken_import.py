"""A plugin whose import fails: zoo must skip it and carry on."""

raise RuntimeError("this plugin is broken on purpose")

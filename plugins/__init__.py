"""zoo's built-in backbone plugins, one module per backbone.

They install as ``zoo_plugins`` and are found through the ``zoo`` entry-point
group, exactly as a third-party plugin is.
"""

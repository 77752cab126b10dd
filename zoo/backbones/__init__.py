"""Backbones, from card to built model: the factories that turn the family files' configs into
cards (``catalogue`` for Keras Applications, ``hub`` for keras-hub, ``catalogue_reference`` for
the published figures), what a card can take, checked before anything is built (``checks``),
choosing backbones from their cards (``selection``), building one with its head (``model``,
``blocks``), freeze points and the feature cut (``layers``), GMACs (``cost``), and what building
one shows (``listing``).

A new family of backbones is a plugin (``plugins/``) calling a factory from here; a new kind of
layer zoo must rebuild, freeze or count goes here.
"""

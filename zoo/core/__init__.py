"""The vocabulary every package speaks: the options that shape a result (``recipe``), the cards
plugins register and the registry that holds them (``card``, ``registry``), the typed result rows
(``rows``), how a number reads (``formatting``), and files written whole or not at all (``files``).

Nothing here imports Keras or any other package of zoo's: a new recipe option, card field or
result column starts here.
"""

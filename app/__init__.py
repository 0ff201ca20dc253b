"""ZVC69 Studio: the player and stream analyzer of the ZVC69 codec (Qt, pyqtgraph)."""

from app.qtcompat import pin_singletons

ORGANIZATION = "ZVC69"
APPLICATION = "Studio"

pin_singletons()

"""slidegrab: archive SlidesLive conference talks for offline reading, watching and searching."""

__version__ = "0.1.0"

"""freshness: headshot freshness and likeness monitor."""

__version__ = "0.1.0"

"""The frame view, its analysis overlays, the timeline and the overlay controls."""

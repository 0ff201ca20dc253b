"""Decoding off the UI thread: frame sources, frame cache, workers, playback controller."""

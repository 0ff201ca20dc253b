"""Analyzer charts over the frame axis (pyqtgraph), linked to the player and to each other."""

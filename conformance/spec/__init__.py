"""The spec: what a network and its training are (parts, reading, TOML), the book's presets, the
errors every command reports in one line, and writing files atomically.

The bottom wing: it imports nothing of nndl's outside itself.
"""

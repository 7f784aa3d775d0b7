"""The runner's stages, one module each: the data it reads, what it builds, self-training, and what it records.

The order lives in :class:`xlingual.runner.Runner`; these are the pieces it calls.
"""

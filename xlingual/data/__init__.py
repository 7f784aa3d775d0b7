"""Data layer: readers (UMSAB folders, CSV/TSV/JSONL, hub datasets), label schemes, batching."""

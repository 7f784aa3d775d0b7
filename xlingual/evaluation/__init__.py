"""Evaluation layer: offline metrics, batched inference, zero-shot evaluation over languages."""

"""Model layer: encoder + pooling + head, freezing, LoRA.

Importing this package registers the ``xlingual`` model type with transformers' Auto
classes, so exported checkpoints load with ``AutoModelForSequenceClassification`` and
``pipeline("text-classification")``.
"""

from .classifier import XlingualConfig, XlingualForSequenceClassification

__all__ = ["XlingualConfig", "XlingualForSequenceClassification"]

"""Weight-space models from finished runs, at no training cost: soups and WiSE-FT interpolation.

Each command is a job (:class:`~xlingual.merging.job.WeightSpaceJob`): it checks its ingredients, makes the
model, and writes a normal run folder (config, checkpoint, predictions, results.json, model card) whose results
name every ingredient, so ``xlingual compare`` reads it like any run.
"""

from .cli import register
from .ingredients import Ingredient, check_compatible, load_ingredient, resolve_ingredient
from .interpolate import InterpolateJob, interpolate, interpolate_in_run, interpolation_choice
from .soup import SoupJob, soup

__all__ = ["Ingredient", "InterpolateJob", "SoupJob", "check_compatible", "interpolate", "interpolate_in_run",
           "interpolation_choice", "load_ingredient", "register", "resolve_ingredient", "soup"]

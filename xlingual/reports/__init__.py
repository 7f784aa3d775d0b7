"""Human-facing outputs: model cards, comparison tables, plots."""

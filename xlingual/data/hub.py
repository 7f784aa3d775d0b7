"""Reader for Hugging Face hub datasets (per-language configs or a language column).

Works for users with hub access; offline it fails with a message that says how to
point the recipe at local files instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError, DataError, did_you_mean
from ..labels import LabelScheme
from ..languages import ColumnLanguages, iso639_1
from .examples import Examples, check_text


def read_hub(
    dataset_id: str,
    language: str,
    split: str,
    scheme: LabelScheme | None,
    config_template: str | None = "{language}",
    text_column: str = "text",
    label_column: str = "label",
    language_column: str | None = None,
    revision: str | None = None,
    language_names: Mapping[str, str] | None = None,
) -> Examples:
    """Load ``dataset_id`` with ``datasets.load_dataset`` and convert it to :class:`Examples`.

    ``language_names`` (``data.language_names``) gives the dataset's name of a language: it fills
    ``{language}`` in the config template and is matched in the language column."""
    # datasets: slow to import, only for hub or Dataset inputs
    import datasets

    config_name = None
    if config_template:
        try:
            mapped = language_names.get(language, language) if language_names else language
            config_name = config_template.format(language=mapped, iso=iso639_1(language))
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"data.hub_config: invalid template {config_template!r} ({type(exc).__name__}: "
                              f"{exc}); placeholders allowed: {{language}}, {{iso}}") from None
    origin = f"hub dataset '{dataset_id}'" + (f" config '{config_name}'" if config_name else "") + f" split '{split}'"
    try:
        dataset = datasets.load_dataset(dataset_id, config_name, split=split, revision=revision)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; all become one clear message
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"could not load {origin}: {first_line}. Without hub access, download the data once and set "
            "data.format/data.root to the local files (umsab folders, csv, tsv or jsonl)"
        ) from None
    columns = dataset.column_names
    for column, what in ((text_column, "text_column"), (label_column if scheme else None, "label_column")):
        if column is not None and column not in columns:
            raise DataError(f"{origin}: no '{column}' column{did_you_mean(column, columns)}; columns: {columns} "
                            f"(set data.{what})")
    names = None
    feature = dataset.features.get(label_column)
    if isinstance(feature, datasets.ClassLabel):
        names = feature.names
    texts: list[str] = []
    labels: list[int] = []
    row_language = ColumnLanguages(language_column or "", language_names)
    for index, row in enumerate(dataset):
        where = f"{origin} row {index}"
        if language_column is not None and row_language(row[language_column], where) != language:
            continue
        texts.append(check_text(str(row[text_column]), where))
        if scheme is not None:
            raw = row[label_column]
            if names is not None and isinstance(raw, int) and names[raw].lower() in scheme.mapping:
                raw = names[raw]  # a ClassLabel whose names the scheme knows
            label = scheme.encode(raw, where)
            if label is None:
                texts.pop()
                continue
            labels.append(label)
    return Examples(texts, labels if scheme is not None else None, language, split, origin)

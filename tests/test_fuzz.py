"""Property-based tests: whatever a user feeds in, xlingual either accepts it or raises its own one-line error.

Recipe text, nested dicts, ``--set`` strings, data-file bytes in every format and raw label values are generated
by hypothesis; anything but success or an :class:`~xlingual.errors.XlingualError` (a KeyError, a UnicodeDecodeError,
a traceback from yaml or csv) is a bug. Accepted input must also be usable: recipes round-trip through YAML and
JSON, examples have a non-blank text and a valid class id each.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from xlingual.config import DataConfig, RecipeConfig, apply_override, load_recipe
from xlingual.data.loading import load_examples
from xlingual.errors import XlingualError
from xlingual.labels import BUILTIN_SCHEMES, LabelScheme

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FILES = settings(FAST, max_examples=60)  # these write a file per example


def one_line(error: XlingualError) -> None:
    message = str(error)
    assert message and len(message.splitlines()) == 1, message


def accepts_or_refuses(call: typing.Callable[[], Any]) -> Any:
    """Run ``call``; an XlingualError (one line) is a fine answer, any other exception fails the test."""
    try:
        result = call()
    except XlingualError as error:
        one_line(error)
        event(f"refused: {type(error).__name__}")
        return None
    event("accepted")
    return result


# ----------------------------------------------------------------------------- recipes

WORDS = ["english", "es", "spa", "Spanish", "german", "klingon", "", " ", "sentiment3", "binary", "custom",
         "stars5_to_binary", "mean", "cls", "avg", "train", "val", "test", "runs/{name}-seed{seed}", "{lang}",
         "x/{language}_{split}.csv", "{", "}", "none", "null", "yes", "1e400", "2020-13-45", "coral", "mmd",
         "contrastive", "dann", "fp16", "no", "query", "value", "positive", "NEU", "a\nb", "\u2028", "0", "-1"]
# Values that YAML or Python turn into exceptions of their own: no such date, no such boolean, a tag without a value,
# an integer too long to print, a number too big for a float, an alias to itself.
TRICKY = ["2020-13-45", "!!bool maybe", "!!int", "!!int :", "!!float .", "!!timestamp 2001-02-30", "1" * 4400,
          "1" + "0" * 400, "-.inf", ".nan", "&a [*a]", "[", "{a: 1", "'", "\x00", "a\nb", "\u2028", "{lang}"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(), st.sampled_from(WORDS), st.text(max_size=12),
)
ANYTHING = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), inner, max_size=4),
                        max_leaves=12)


def shaped(tp: Any, depth: int = 0) -> st.SearchStrategy:
    """Values of config type ``tp``: mostly well-typed (so deep checks run), sometimes anything at all."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        optional = {f.name: shaped(hints[f.name], depth + 1) for f in dataclasses.fields(tp)}
        return st.fixed_dictionaries({}, optional=optional) | ANYTHING
    if origin in (typing.Union, types.UnionType):
        return st.one_of([st.none() if arg is type(None) else shaped(arg, depth) for arg in typing.get_args(tp)])
    if origin is Literal:
        return st.sampled_from([*typing.get_args(tp), "junk"]) | SCALARS
    if origin is list:
        item = shaped(typing.get_args(tp)[0], depth + 1)
        return st.lists(item, max_size=4) | st.sampled_from(["spanish,german", "", "es, xx"]) | SCALARS
    if origin is dict:
        return st.dictionaries(st.sampled_from(WORDS) | st.integers(), st.sampled_from(WORDS) | SCALARS, max_size=3)
    if tp is bool:
        return st.booleans() | st.sampled_from(["yes", "off", "maybe", 1, 2])
    if tp is int:
        return st.integers(min_value=-3, max_value=70) | st.integers() | st.sampled_from(["8", "2.0", "2.5", "x"])
    if tp is float:
        return (st.floats(min_value=-1, max_value=2) | st.floats()
                | st.sampled_from(["1e-3", "nan", "x", 10**400, -(10**400)]))
    if tp is str:
        return st.sampled_from(WORDS) | st.text(max_size=10)
    return ANYTHING


RECIPE_DICTS = st.one_of(shaped(RecipeConfig),
                         st.dictionaries(st.text(max_size=8), ANYTHING, max_size=3))


def round_trips(recipe: RecipeConfig) -> None:
    assert RecipeConfig.from_dict(yaml.safe_load(recipe.to_yaml())) == recipe
    assert RecipeConfig.from_dict(json.loads(recipe.to_json())) == recipe


@FAST
@given(RECIPE_DICTS)
def test_any_nested_dict_is_a_recipe_or_a_config_error(data):
    recipe = accepts_or_refuses(lambda: RecipeConfig.from_dict(data))
    if recipe is not None:
        round_trips(recipe)


def dotted_keys(tp: Any, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(tp):
        key = prefix + f.name
        keys.append(key)
        hint = typing.get_type_hints(tp)[f.name]
        for sub in (hint, *typing.get_args(hint)):
            if dataclasses.is_dataclass(sub):
                keys += dotted_keys(sub, key + ".")
    return keys


KEYS = dotted_keys(RecipeConfig)


@FAST
@given(key=st.data(), value=st.sampled_from([10**400, -(10**400), 2**64, float("nan"), float("inf")])
       | st.sampled_from(TRICKY) | ANYTHING)
def test_any_value_in_any_one_field_is_accepted_or_a_config_error(key, value):
    data = RecipeConfig().to_dict()
    *path, last = key.draw(st.sampled_from(KEYS)).split(".")
    node = data
    for part in path:  # sections that default to null (lora, self_training, ...) are switched on
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value
    recipe = accepts_or_refuses(lambda: RecipeConfig.from_dict(data))
    if recipe is not None:
        round_trips(recipe)


YAML_BITS = [
    "name: x\n", "model:\n", "  name: m\n", "  pooling: ", "training:\n", "  epochs: ", "  batch_size: ",
    "  seed: ", "data:\n", "  target_languages: [", "  label_map: {", "lora:\n", "  r: ", "alignment:\n",
    "  losses: [{name: coral}]\n", "  unlabeled_target: {split: train}\n", "self_training: {rounds: 1}\n",
    "output_dir: ", "- ", ": ", ", ", "[", "]", "{", "}", '"', "'", "!!int ", "!!bool ", "!!float ", "!!timestamp ",
    "!!binary ", "!!python/object:os.system ", "&a ", "*a ", "<<: ", "\t", "\n", "  ", "# c\n", "%YAML 1.1\n",
    "---\n", "...\n", "? ", "|\n", ">\n", "2020-13-45", "1e400", "1" * 4400, ".nan", "~", "null", "yes", "\x00",
    "\ufeff", "\u2028", "é",
]
YAML_TEXT = st.lists(st.sampled_from(YAML_BITS) | st.text(max_size=6), max_size=25).map("".join)


@FILES
@given(text=YAML_TEXT, suffix=st.sampled_from([".yaml", ".json"]))
def test_any_recipe_text_loads_or_is_a_config_error(tmp_path, text, suffix):
    path = tmp_path / f"recipe{suffix}"
    path.write_text(text, encoding="utf-8")
    recipe = accepts_or_refuses(lambda: load_recipe(path))
    if recipe is not None:
        round_trips(recipe)


@FILES
@given(raw=st.binary(max_size=200))
def test_any_recipe_bytes_load_or_are_a_config_error(tmp_path, raw):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(raw)
    accepts_or_refuses(lambda: load_recipe(path))


OVERRIDE = st.builds(
    lambda key, sep, value: f"{key}{sep}{value}",
    st.sampled_from(KEYS) | st.sampled_from(["", ".", "training..epochs", "trainig.epochs", "a.b.c"])
    | st.text(max_size=8),
    st.sampled_from(["=", "=", "=", "", "==", " = "]),
    st.sampled_from(TRICKY) | st.sampled_from(WORDS) | YAML_TEXT | st.text(max_size=10) | st.integers().map(str),
)


@FAST
@given(overrides=st.lists(OVERRIDE, max_size=4), base=st.sampled_from([{}, {"name": "x", "training": [1]}, None]))
def test_any_set_overrides_give_a_recipe_or_a_config_error(overrides, base):
    data = json.loads(json.dumps(base)) if base is not None else RecipeConfig().to_dict()

    def apply():
        for assignment in overrides:
            apply_override(data, assignment)
        return RecipeConfig.from_dict(data)

    recipe = accepts_or_refuses(apply)
    if recipe is not None:
        round_trips(recipe)


# ----------------------------------------------------------------------------- data files

FIELD_TEXT = st.text(alphabet=st.sampled_from([*"ab é,\t\"'\n\r\\{}", "\u2028", "\x00", "\ufeff"]), max_size=8)
LABELS = st.sampled_from(["0", "1", "2", "3", "5", "pos", "NEG", "7", "", " ", "NaN", "2.0", "-1", "positive"])
COLUMNS = st.sampled_from(["text", "label", "lang", "review", "", "text ", "Text"])
LANGUAGE_VALUES = st.sampled_from(["en", "english", "English", "es", "spa", "klingon", "", "EN-us"])
SCHEMES = st.sampled_from([("sentiment3", None), ("binary", None), ("stars5_to_binary", None),
                           ("custom", ["sad", "happy"])])


CLEAN_TEXT = st.sampled_from(["good", "very bad", "la mesa", "ok ok", "é"])


@st.composite
def delimited(draw, delimiter: str) -> bytes:
    """Header plus rows: mostly well formed, some with stray quotes, delimiters, line breaks or missing fields."""
    header = draw(st.sampled_from([["text", "label"], ["label", "text", "lang"]]) | st.lists(COLUMNS, min_size=1,
                                                                                             max_size=4))
    lines = [delimiter.join(header)]
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 4)):
            columns = header
        else:
            columns = draw(st.lists(st.sampled_from(header), max_size=len(header) + 1))
        fields = []
        for column in columns:
            value = draw({"label": LABELS, "lang": LANGUAGE_VALUES}.get(column, CLEAN_TEXT) | FIELD_TEXT
                         if not draw(st.integers(0, 3)) else
                         {"label": LABELS, "lang": LANGUAGE_VALUES}.get(column, CLEAN_TEXT))
            fields.append(f'"{value}"' if draw(st.booleans()) else value)
        lines.append(delimiter.join(fields))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))
    return corrupt(draw, text.encode("utf-8"))


def corrupt(draw, raw: bytes) -> bytes:
    """Sometimes splice in invalid UTF-8 or cut the file short."""
    choice = draw(st.integers(0, 7))
    if choice == 0 and raw:
        cut = draw(st.integers(0, len(raw)))
        return raw[:cut] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xe9t\xe9", b"\x00"])) + raw[cut:]
    if choice == 1 and raw:
        return raw[: draw(st.integers(0, len(raw)))]
    return raw


@st.composite
def jsonl(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(['{"text": "a"', "[1, 2]", "null", "NaN", '"text"', "{", "1" * 4400,
                                               "[" * 3000, '{"text": "ok", "label": ' + "9" * 4400 + "}"])))
            continue
        odd = not draw(st.integers(0, 3))
        row = draw(st.dictionaries(COLUMNS, ANYTHING | FIELD_TEXT | LABELS, max_size=3)) if odd else {}
        if not odd or draw(st.booleans()):
            row |= {"text": draw(CLEAN_TEXT | FIELD_TEXT | ANYTHING if odd else CLEAN_TEXT),
                    "label": draw(LABELS | ANYTHING if odd else LABELS),
                    "lang": draw(LANGUAGE_VALUES | ANYTHING if odd else LANGUAGE_VALUES)}
        lines.append(json.dumps(row))
    return corrupt(draw, "\n".join(lines).encode("utf-8"))


def check_examples(examples, scheme: LabelScheme | None) -> None:
    assert examples.texts and all(isinstance(t, str) and t.strip() for t in examples.texts)
    if scheme is None:
        assert examples.labels is None
    else:
        assert len(examples.labels) == len(examples.texts)
        assert all(0 <= label < scheme.num_labels for label in examples.labels)


def data_config(**kwargs: Any) -> DataConfig:
    return DataConfig(**kwargs).validate()  # a validated copy: validation never changes what it checks


@FILES
@given(data=st.data(), fmt=st.sampled_from(["csv", "tsv", "jsonl"]), scheme=SCHEMES, labelled=st.booleans(),
       one_file=st.booleans())
def test_any_tabular_file_loads_or_is_a_data_error(tmp_path, data, fmt, scheme, labelled, one_file):
    raw = data.draw(jsonl() if fmt == "jsonl" else delimited("\t" if fmt == "tsv" else ","))
    name = "all" if one_file else "english_train"
    (tmp_path / f"{name}.{fmt}").write_bytes(raw)
    root = str(tmp_path / (f"all.{fmt}" if one_file else f"{{language}}_{{split}}.{fmt}"))
    config = data_config(format=fmt, root=root, language_column="lang" if one_file else None,
                         label_scheme=scheme[0], label_names=scheme[1], drop_labels=["NaN"])
    label_scheme = LabelScheme.build(scheme[0], scheme[1], drop_labels=["NaN"])
    examples = accepts_or_refuses(lambda: load_examples(config, "english", "train", labelled=labelled))
    if examples is not None:
        check_examples(examples, label_scheme if labelled else None)


LINE_BITS = st.sampled_from(["good", "  ", "", "0", "1", "2", "7", "pos", "\r", "\t", "é", "\u2028", "\x00"])


@FILES
@given(data=st.data(), scheme=SCHEMES, labelled=st.booleans())
def test_any_umsab_folder_loads_or_is_a_data_error(tmp_path, data, scheme, labelled):
    folder = tmp_path / "english"
    folder.mkdir(exist_ok=True)
    size = data.draw(st.integers(0, 5))
    odd = st.sampled_from([CLEAN_TEXT, LINE_BITS | FIELD_TEXT])
    for name, good in (("train_text.txt", CLEAN_TEXT), ("train_labels.txt", LABELS)):
        count = size if data.draw(st.integers(0, 4)) else data.draw(st.integers(0, 6))
        lines = [data.draw(good if data.draw(st.integers(0, 5)) else data.draw(odd)) for _ in range(count)]
        ending = data.draw(st.sampled_from(["\n", "\r\n"]))
        raw = corrupt(data.draw, ending.join(lines).encode("utf-8")) if data.draw(st.integers(0, 5)) else \
            data.draw(st.binary(max_size=40))
        (folder / name).write_bytes(raw)
    config = data_config(format="umsab", root=str(tmp_path), label_scheme=scheme[0], label_names=scheme[1])
    examples = accepts_or_refuses(lambda: load_examples(config, "english", "train", labelled=labelled))
    if examples is not None:
        check_examples(examples, LabelScheme.build(scheme[0], scheme[1]) if labelled else None)


@FILES
@given(raw=st.binary(max_size=300), fmt=st.sampled_from(["csv", "tsv", "jsonl"]))
def test_any_bytes_as_a_data_file_load_or_are_a_data_error(tmp_path, raw, fmt):
    (tmp_path / f"english_train.{fmt}").write_bytes(raw)
    config = data_config(format=fmt, root=str(tmp_path / f"{{language}}_{{split}}.{fmt}"))
    examples = accepts_or_refuses(lambda: load_examples(config, "english", "train"))
    if examples is not None:
        check_examples(examples, LabelScheme.build("sentiment3"))


# ----------------------------------------------------------------------------- label schemes

RAW_LABELS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**4300, max_value=10**4400), st.floats(),
    st.text(max_size=10), LABELS, st.binary(max_size=4), st.decimals(), st.fractions(), st.complex_numbers(),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.builds(object),
)


@FAST
@given(scheme=st.sampled_from([*BUILTIN_SCHEMES, "custom", "sentiment5"]),
       names=st.none() | st.lists(st.text(max_size=5), max_size=3),
       label_map=st.none() | st.dictionaries(st.text(max_size=3), st.sampled_from(["negative", "positive", "x"]),
                                             max_size=2),
       drop=st.none() | st.lists(LABELS, max_size=2), raws=st.lists(RAW_LABELS, min_size=1, max_size=5))
def test_label_scheme_encodes_any_value_or_raises_a_data_error(scheme, names, label_map, drop, raws):
    built = accepts_or_refuses(lambda: LabelScheme.build(scheme, names, label_map, drop))
    if built is None:
        return
    for raw in raws:
        label = accepts_or_refuses(lambda raw=raw: built.encode(raw, "file.txt:3"))
        assert label is None or (isinstance(label, int) and 0 <= label < built.num_labels)

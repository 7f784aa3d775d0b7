"""Recipe config: YAML/JSON round trip, --set overrides, errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from xlingual.config import DataConfig, RecipeConfig, load_recipe
from xlingual.errors import ConfigError
from xlingual.languages import iso639_3, normalize_language

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_recipe_loads_and_round_trips(path):
    recipe = load_recipe(path)
    assert recipe.name == yaml.safe_load(path.read_text())["name"]
    assert RecipeConfig.from_dict(yaml.safe_load(recipe.to_yaml())) == recipe
    assert RecipeConfig.from_dict(json.loads(recipe.to_json())) == recipe


def test_overrides_are_typed():
    recipe = load_recipe(None, ["training.learning_rate=2e-5", "training.epochs=2", "lora.r=8",
                                "data.target_languages=es,deu", "freeze.embeddings=true", "model.name=/x"])
    assert recipe.training.learning_rate == pytest.approx(2e-5)
    assert isinstance(recipe.training.epochs, float)
    assert recipe.lora is not None and recipe.lora.r == 8 and recipe.method == "lora"
    assert recipe.data.target_languages == ["spanish", "german"]
    assert recipe.freeze.embeddings is True


def test_override_text_that_looks_like_a_mapping_stays_text():
    """e5's prefix "query: " is YAML for {query: None}; on the command line it means the text."""
    recipe = load_recipe(None, ["model.text_prefix=query: ", "alignment.losses=[{name: coral}]",
                                "alignment.unlabeled_target={split: train}"])
    assert recipe.model.text_prefix == "query: "
    assert recipe.alignment.losses[0].name == "coral"  # flow mappings in braces still parse
    assert recipe.alignment.unlabeled_target is not None and recipe.alignment.unlabeled_target.split == "train"


def test_yaml_no_is_the_word_where_a_choice_expects_it():
    """YAML 1.1 reads ``no`` as False; ``mixed_precision=no`` must still mean the choice "no"."""
    recipe = load_recipe(None, ["training.mixed_precision=no"])
    assert recipe.training.mixed_precision == "no"
    assert RecipeConfig.from_dict(yaml.safe_load(recipe.to_yaml())).training.mixed_precision == "no"
    with pytest.raises(ConfigError, match=r"training\.group_by_length"):
        load_recipe(None, ["training.group_by_length=maybe"])


def test_misspelt_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match=r"training\.lerning_rate.*did you mean 'training\.learning_rate'"):
        load_recipe(None, ["training.lerning_rate=2e-5"])


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match=r"unknown key 'trainig'.*did you mean 'training'"):
        RecipeConfig.from_dict({"trainig": {}})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.batch_size=abc", r"training\.batch_size: expected an integer"),
        ("training.batch_size=0", r"training\.batch_size: must be at least 1"),
        ("training.learning_rate=-1", r"training\.learning_rate: must be positive"),
        ("training.epochs=1.5.3", r"training\.epochs: expected a number"),
        ("model.pooling=avg", r"model\.pooling: 'avg' is not one of mean, cls, max"),
        ("data.target_languages=[]", r"data\.target_languages: the list is empty"),
        ("data.target_languages=klingon", r"data\.target_languages: unknown language 'klingon'"),
        ("data.source_language=english", None),
        ("freeze.embeddings=maybe", r"freeze\.embeddings: expected true or false"),
        ("training.mixed_precision=fp8", r"training\.mixed_precision: 'fp8' is not one of"),
    ],
)
def test_bad_values_name_the_key(override, message):
    if message is None:
        load_recipe(None, [override])
        return
    with pytest.raises(ConfigError, match=message):
        load_recipe(None, [override])


def test_recipe_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: line \d+"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="recipe file not found"):
        load_recipe(tmp_path / "missing.yaml")


def test_output_dir_is_filled_in():
    recipe = load_recipe(None, ["name=demo", "training.seed=7"])
    assert recipe.resolved_output_dir() == Path("runs/demo-seed7")


@pytest.mark.parametrize(("alias", "name"), [("es", "spanish"), ("spa", "spanish"), ("Spanish", "spanish"),
                                             ("de", "german"), ("es-MX", "spanish"), ("zho", "chinese")])
def test_language_aliases(alias, name):
    assert normalize_language(alias) == name


def test_language_codes():
    assert iso639_3("es") == "spa"
    with pytest.raises(ConfigError, match="did you mean 'spanish'"):
        normalize_language("spansh")


def test_validation_never_changes_what_it_checks():
    data = DataConfig(target_languages=["es", "de"])
    checked = data.validate()
    assert data.target_languages == ["es", "de"] and checked.target_languages == ["spanish", "german"]
    recipe = RecipeConfig(data=DataConfig(target_languages=["es"]))
    validated = recipe.validate()
    assert recipe.data.target_languages == ["es"] and validated.data.target_languages == ["spanish"]

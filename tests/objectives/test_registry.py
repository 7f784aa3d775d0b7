"""The objective registry: one declaration per objective, from which recipes, streams and protocol derive."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import yaml

from xlingual.config import AlignmentConfig, LossConfig, RecipeConfig, load_recipe
from xlingual.errors import ConfigError
from xlingual.objectives import (
    STREAM_RESOURCES,
    STREAM_SECTIONS,
    TARGET_RESOURCES,
    Objective,
    SetupContext,
    build_objectives,
    get_objective,
    register_objective,
    registered_objectives,
    unregister_objective,
)
from xlingual.protocol import target_resources

BUILTINS = ("contrastive", "coral", "dann", "mmd")


def recipe_with(name: str, **settings) -> RecipeConfig:
    """A recipe training ``name``, with every stream section it reads set."""
    cls = get_objective(name)
    streams = {STREAM_SECTIONS[part.split("_")[0]]: {} for part in cls.parts}
    return RecipeConfig.from_dict({"alignment": {**streams, "losses": [{"name": name, **settings}]}})


def test_builtins_are_registered():
    assert set(BUILTINS) <= set(registered_objectives())


@pytest.mark.parametrize("name", sorted(registered_objectives()))
def test_every_registered_objective_maps_to_a_target_resource(name):
    """The protocol guard reads the declaration: no objective can read target data and be recorded zero-shot."""
    cls = get_objective(name)
    assert isinstance(cls.target_resources, tuple) and set(cls.target_resources) <= set(TARGET_RESOURCES)
    recorded = target_resources(recipe_with(name))
    for part in cls.parts:
        assert STREAM_RESOURCES[part.split("_")[0]] in recorded
    expected = [r for r in TARGET_RESOURCES if r in cls.target_resources] or ["zero-shot"]
    assert recorded == expected


def test_unknown_loss_names_are_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"alignment\.losses\[0\]\.name: unknown objective 'corall' "
                                          r"\(did you mean 'coral'\?\)"):
        load_recipe(None, ["alignment.unlabeled_target={}", "alignment.losses=[{name: corall}]"])
    with pytest.raises(ConfigError, match="did you mean 'coral'"):  # the Python path: the recipe object
        RecipeConfig(alignment=AlignmentConfig(unlabeled_target=None, losses=[LossConfig("corall")])).validate()
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ConfigError, match="unknown objective 'corall'"):  # used to build the contrastive loss
        build_objectives([LossConfig("corall")], SetupContext(model, 8, ["spanish"]))


def test_objective_settings_are_their_own_dataclass_flat_in_the_recipe():
    recipe = load_recipe(None, ["alignment.unlabeled_target={}",
                                "alignment.losses=[{name: mmd, unbiased: true, kernel_multipliers: [1, 2]}]"])
    params = recipe.alignment.losses[0].params
    assert type(params).__name__ == "MMDParams" and params.unbiased and params.kernel_multipliers == [1.0, 2.0]
    dumped = yaml.safe_load(recipe.to_yaml())["alignment"]["losses"][0]
    assert dumped == {"name": "mmd", "weight": 1.0, "schedule": "constant", "warmup_ratio": 0.1,
                      "kernel_multipliers": [1.0, 2.0], "unbiased": True}
    assert RecipeConfig.from_dict(yaml.safe_load(recipe.to_yaml())) == recipe
    with pytest.raises(ConfigError, match=r"unknown key 'alignment\.losses\[0\]\.temperature'.*valid keys for 'mmd'"):
        load_recipe(None, ["alignment.unlabeled_target={}", "alignment.losses=[{name: mmd, temperature: 0.1}]"])
    with pytest.raises(ConfigError, match=r"alignment\.losses\[0\]\.temperature: must be positive"):
        load_recipe(None, ["alignment.pairs={}", "alignment.losses=[{name: contrastive, temperature: 0}]"])


def test_dann_schedule_is_not_applied_twice():
    """The reversal layer already ramps λ(p); schedule: dann on the dann loss used to square it."""
    with pytest.raises(ConfigError, match=r"alignment\.losses\[0\]\.schedule: 'dann' would ramp the dann loss twice"):
        load_recipe(None, ["alignment.unlabeled_target={}", "alignment.losses=[{name: dann, schedule: dann}]"])
    load_recipe(None, ["alignment.unlabeled_target={}", "alignment.losses=[{name: mmd, schedule: dann}]"])


@dataclass
class ShiftParams:
    scale: float = 1.0


@register_objective
class MeanShiftObjective(Objective):
    """A test objective: squared distance between the mean source and target embeddings."""

    name = "test_mean_shift"
    Params = ShiftParams
    parts = ("target",)
    target_resources = ("unlabeled-target",)

    def compute(self, context):
        source, target = context.embeddings["source"], context.embeddings["target"]
        return self.params.scale * (source.mean(0) - target.mean(0)).pow(2).sum()


def test_a_registered_objective_is_usable_by_name_in_a_recipe():
    recipe = load_recipe(None, ["alignment.unlabeled_target={}",
                                "alignment.losses=[{name: test_mean_shift, scale: 2, weight: 0.5}]"])
    assert recipe.alignment.losses[0].params == ShiftParams(2.0)
    assert target_resources(recipe) == ["unlabeled-target"]
    with pytest.raises(ConfigError, match=r"'test_mean_shift' needs alignment\.unlabeled_target"):
        load_recipe(None, ["alignment.losses=[{name: test_mean_shift}]"])
    objective = MeanShiftObjective(scale=3.0, weight=0.2)
    assert objective.params == ShiftParams(3.0) and objective.weight(0.5) == 0.2


def test_declarations_are_checked_at_registration():
    with pytest.raises(TypeError, match="declare target_resources"):
        @register_objective
        class NoResource(Objective):
            name = "test_no_resource"
            parts = ("target",)
    with pytest.raises(TypeError, match="must include 'parallel'"):
        @register_objective
        class WrongResource(Objective):
            name = "test_wrong_resource"
            parts = ("pairs", "pairs_translation")
            target_resources = ("unlabeled-target",)
    with pytest.raises(ValueError, match="already registered"):
        @register_objective
        class Coral(Objective):
            name = "coral"
            target_resources = ()
    assert "test_no_resource" not in registered_objectives()


def test_a_source_only_objective_records_zero_shot():
    @register_objective
    class SourceNorm(Objective):
        name = "test_source_norm"
        target_resources = ()

        def compute(self, context):
            return context.embeddings["source"].pow(2).mean()

    try:
        recipe = load_recipe(None, ["alignment.losses=[{name: test_source_norm}]"])
        assert target_resources(recipe) == ["zero-shot"]
        assert target_resources(load_recipe(None, []), [MeanShiftObjective()]) == ["unlabeled-target"]
    finally:
        unregister_objective("test_source_norm")


def test_train_accepts_objective_instances(tiny_bert, toy_umsab, tmp_path):
    """A user's own loss needs no edit to xlingual: pass the instance; the protocol records what it reads."""
    from conftest import REPO, tiny_recipe_overrides

    import xlingual
    from xlingual.io import read_json

    objective = MeanShiftObjective(scale=1.0, weight=0.5)
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "run", **{"training.epochs": 1})
    with pytest.raises(ConfigError, match=r"objectives\[0\]: 'test_mean_shift' needs alignment\.unlabeled_target"):
        xlingual.train(REPO / "recipes/umsab_e5small.yaml", overrides, progress=False, objectives=[objective])
    run = xlingual.train(REPO / "recipes/umsab_e5small.yaml", [*overrides, "alignment.unlabeled_target={}"],
                         progress=False, objectives=[objective], overwrite=True)
    results = read_json(run / "results.json")
    assert results["protocol"]["target_resources"] == ["unlabeled-target"]
    (described,) = results["training"]["objectives"]
    assert described["name"] == "test_mean_shift" and described["params"] == {"scale": 1.0}
    log = (run / "logs" / "train_log.jsonl").read_text()
    assert '"test_mean_shift":' in log and '"test_mean_shift_weight": 0.5' in log

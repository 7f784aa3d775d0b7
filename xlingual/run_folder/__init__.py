"""The run folder: what a run writes (:mod:`.layout`), whether a command may write a folder (:mod:`.plan`), the
local paths it records (:mod:`.paths`), and the one writer of its records (:mod:`.writer`)."""

from __future__ import annotations

from .layout import (
    CALL,
    CHECKPOINT,
    CHECKPOINT_METADATA,
    COMMAND,
    CONFIG,
    LOCK,
    LOCK_HOLDER,
    MARKER,
    PREDICTIONS,
    RECIPE,
    RESULTS,
    RUN_FILES,
    RUN_FOLDERS,
    SNAPSHOTS,
    STATE,
    STATE_FILES,
    TRACKER_FILES,
    TRAIN_LOG,
    TRAINING_CURVES,
    checkpoint_files,
    folder_content,
    is_complete,
    is_run_folder,
    library_versions,
    read_marker,
    resumable,
    run_written_files,
    train_log_records,
)
from .paths import PATHS_FILE, apply_recorded, local_path_keys, record_paths, resolve, run_recipe_data, yaml_comment
from .plan import (
    RESUME_MAY_CHANGE,
    check_resume_config,
    check_run_folder,
    prepare_run_folder,
    protected_paths,
    recover_training_state,
    refuse_protected,
    saved_settings,
)
from .writer import RunWriter

__all__ = [
    "CALL", "CHECKPOINT", "CHECKPOINT_METADATA", "COMMAND", "CONFIG", "LOCK", "LOCK_HOLDER", "MARKER", "PATHS_FILE",
    "PREDICTIONS", "RECIPE", "RESULTS", "RESUME_MAY_CHANGE", "RUN_FILES", "RUN_FOLDERS", "SNAPSHOTS", "STATE",
    "STATE_FILES", "TRACKER_FILES", "TRAINING_CURVES", "TRAIN_LOG", "RunWriter", "apply_recorded",
    "check_resume_config", "check_run_folder", "checkpoint_files", "folder_content", "is_complete", "is_run_folder",
    "library_versions", "local_path_keys", "prepare_run_folder", "protected_paths", "read_marker", "record_paths",
    "recover_training_state", "refuse_protected", "resolve", "resumable", "run_recipe_data", "run_written_files",
    "saved_settings", "train_log_records", "yaml_comment",
]

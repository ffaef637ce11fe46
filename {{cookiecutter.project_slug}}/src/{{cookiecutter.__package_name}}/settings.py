"""Runtime settings.

Read from `{{ cookiecutter.__package_name | upper }}_*` environment variables, a `.env` file,
or the `[tool.{{ cookiecutter.__package_name }}]` table of pyproject.toml, in that order.
"""

import re
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
)

from .artifact import ArtifactSettings
from .review import ReviewSettings
from .state_store import StateStoreSettings

PROJECT_FILE = Path(__file__).resolve().parents[2] / "pyproject.toml"
"""The project's pyproject.toml, wherever a command runs from (an installed wheel, as in an
image, has none: its defaults are the environment's)."""


class Settings(StateStoreSettings, ReviewSettings, ArtifactSettings):
    """Settings every entry point shares. Strategy entry points extend this class."""

    model_config = SettingsConfigDict(
        env_prefix="{{ cookiecutter.__package_name | upper }}_",
        env_file=".env",
        extra="ignore",
        pyproject_toml_table_header=("tool", "{{ cookiecutter.__package_name }}"),
    )

    model_dir: Path = Path("models/current")
    """The model artifact to serve: a version directory, or the `current` pointer file."""

    training_data: Path | None = None
    """The table training reads (CSV or Parquet, per features.yaml); unset: the sample data.
    A project generated from a table names it in pyproject.toml."""

    promotion_metric: str | None = None
    """The held-out metric the promotion gate compares (unset: evaluation.PROMOTION_METRIC)."""

    promotion_tolerance: float = 0.01
    """How much worse than the current version's `promotion_metric` a new version may be and
    still be promoted."""

    threshold_rule: str = "f1"
    """Binary classifiers: how training chooses the decision threshold on the held-out rows,
    `f1` (the highest F1), `precision:0.9` (the most recall at that precision at least) or
    `recall:0.8` (the most precision at that recall at least)."""

    importance_repeats: int = 5
    """How often each input is shuffled for the permutation importance figure."""

    @field_validator("threshold_rule")
    @classmethod
    def _known_rule(cls, rule: str) -> str:
        if not re.fullmatch(r"f1|(precision|recall):(0(\.\d+)?|1(\.0*)?)", rule):
            raise ValueError(
                f"threshold_rule {rule!r} is not one of f1, precision:<0 to 1>, recall:<0 to 1>"
            )
        return rule

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment and `.env` first, then the project's pyproject.toml."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
            PyprojectTomlConfigSettingsSource(settings_cls, PROJECT_FILE),
        )

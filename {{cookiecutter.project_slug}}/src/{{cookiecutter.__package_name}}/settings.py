"""Runtime settings.

Read from `{{ cookiecutter.__package_name | upper }}_*` environment variables or a `.env` file.
"""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings every entry point shares. Strategy entry points extend this class."""

    model_config = SettingsConfigDict(
        env_prefix="{{ cookiecutter.__package_name | upper }}_",
        env_file=".env",
        extra="ignore",
    )

    model_dir: Path = Path("models/current")
    """The model artifact to serve: a version directory, or the `current` pointer file."""
{#- bandit (ruff S108) flags any path under a temporary directory: this one was given. #}
{%- set temporary = "  # noqa: S108 (the table given at generation)" if cookiecutter.__training_data.startswith(("/tmp/", "/var/tmp/", "/dev/shm/")) else "" %}
{%- if cookiecutter.__training_data and (cookiecutter.__training_data | tojson | length) <= 61 %}
    training_data: Path | None = Path({{ cookiecutter.__training_data | tojson }}){{ temporary }}
{%- elif cookiecutter.__training_data %}
    training_data: Path | None = Path(
        {{ cookiecutter.__training_data | tojson }}{{ temporary }}
    )
{%- else %}
    training_data: Path | None = None
{%- endif %}
    """The table training reads (CSV or Parquet, per features.yaml); unset: the sample data."""
{#- Only rest, batch and stream read state.py's store (hooks/manifest.yaml). #}
{%- if cookiecutter.stateful == "yes" and cookiecutter.__strategy in ["rest", "batch", "stream"] %}

    state_url: str = "sqlite:///state/entities.db"
    """The per-entity state store: `sqlite:///path.db`, or `postgresql://...` in production."""
{%- endif %}
{%- if cookiecutter.legal_review == "yes" %}

    audit_log_path: Path = Path("audit/predictions.jsonl")
    """Append-only JSON lines: one record per prediction (input hash, output, model version)."""
{%- endif %}

"""What the API benchmark sends the service: the row itself (the service keeps no state)."""

from pathlib import Path
from typing import Any


def service_request(work: Path, row: dict[str, Any]) -> tuple[dict[str, str], Any]:
    """The variables the service needs beyond the model's, and the body that scores `row`."""
    return {}, row

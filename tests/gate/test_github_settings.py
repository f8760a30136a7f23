"""GITHUB_APP_PRIVATE_KEY is a file path or the PEM itself; a wrong one names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigurationError, Settings
from tests.fakes.github_api import app_private_key


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_private_key_is_read_from_a_file_or_taken_as_pem(tmp_path: Path) -> None:
    pem = app_private_key()
    key_file = tmp_path / "app.pem"
    key_file.write_text(pem)
    from_file = settings(github_app_id="42", github_app_private_key=str(key_file))
    assert from_file.require_github_app() == ("42", pem)
    escaped = pem.strip().replace("\n", "\\n")  # as one-line environment variables hold it
    from_value = settings(github_app_id="42", github_app_private_key=escaped)
    assert from_value.require_github_app() == ("42", pem.strip())


def test_missing_or_unreadable_github_settings_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GITHUB_APP_ID"):
        settings(github_app_private_key="x").require_github_app()
    with pytest.raises(ConfigurationError, match="GITHUB_APP_PRIVATE_KEY is neither"):
        settings(
            github_app_id="42", github_app_private_key=str(tmp_path / "missing.pem")
        ).require_github_app()

from pathlib import Path

import pytest

from core.errors import ValidationError
from core.settings import Settings, load_settings


def test_defaults(tmp_path):
    settings = load_settings(config_path=tmp_path / "none.toml", env={})
    assert settings.max_batch_size == 6 and settings.default_max_k == 3 and settings.min_similarity == 0.3
    assert (settings.engine, settings.embedder, settings.namer) == ("sketch", "features", "describe")


def test_precedence_defaults_file_env_flags(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('max_batch_size = 4\nengine = "musicgen"\nmin_similarity = 0.5\n')
    env = {
        "SESSIONLAB_MAX_BATCH_SIZE": "5",
        "OPENAI_API_KEY": "sk-test",
        "SESSIONLAB_DATA_DIR": str(tmp_path / "d"),
    }
    settings = load_settings(config_path=config, env=env, engine="sketch")
    assert settings.max_batch_size == 5  # env beats file
    assert settings.min_similarity == 0.5  # file beats default
    assert settings.engine == "sketch"  # flag beats file
    assert settings.openai_api_key == "sk-test"
    assert settings.data_dir == tmp_path / "d"
    assert settings.db_path == tmp_path / "d" / "sessionlab.db"


def test_musicgen_model_env(tmp_path):
    settings = load_settings(config_path=tmp_path / "x.toml", env={"SESSIONLAB_MUSICGEN_MODEL": "/models/mg"})
    assert settings.musicgen_model == "/models/mg"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("max_batch_size = 0\n", "max_batch_size must be between 1 and 64"),
        ("max_batch_size = 'many'\n", "invalid value"),
        ("no_such_thing = 1\n", "Unknown setting 'no_such_thing'"),
        ("max_batch_size = [\n", "Cannot read the config file"),
    ],
)
def test_bad_config_is_one_sentence(tmp_path, text, fragment):
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ValidationError, match=fragment):
        load_settings(config_path=config, env={})


def test_replace_ignores_none():
    settings = Settings(data_dir=Path("/tmp/x"))
    assert settings.replace(engine=None, namer="openai").namer == "openai"

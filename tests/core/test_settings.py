import re
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


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'engine = "caf\xe9"\n', "is not UTF-8 text (byte 0xe9 at offset 13)"),
        (b'engine = ["sketch"]\n', "Setting engine has an invalid value"),
        (b"namer = 3\n", "Setting namer has an invalid value"),
        (b"max_batch_size = 2.5\n", "Setting max_batch_size has an invalid value"),
        (b'log_level = "loud"\n', "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ],
)
def test_a_config_file_that_is_not_utf8_or_has_wrong_types_is_one_sentence(tmp_path, raw, fragment):
    config = tmp_path / "config.toml"
    config.write_bytes(raw)
    with pytest.raises(ValidationError, match=re.escape(fragment)) as caught:
        load_settings(config_path=config, env={})
    message = str(caught.value)
    assert "\n" not in message
    if "log_level" not in fragment:
        assert str(config) in message


def test_log_level_is_a_setting_and_is_normalised(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('log_level = "debug"\n')
    assert load_settings(config_path=config, env={}).log_level == "DEBUG"
    assert load_settings(config_path=config, env={"SESSIONLAB_LOG_LEVEL": "error"}).log_level == "ERROR"


def test_save_settings_keeps_the_rest_of_the_file(tmp_path):
    from core.settings import save_settings

    config = tmp_path / "config.toml"
    config.write_text('# my studio\nengine = "sketch"\nvolume_db = -3.0\n\n[extra]\nvolume_db = 1\n')
    save_settings({"volume_db": -9.0, "output_device": 'USB "Headphones"'}, config)
    text = config.read_text()
    assert text.startswith('# my studio\nengine = "sketch"\n')
    assert "[extra]\nvolume_db = 1\n" in text  # a table's key is not ours
    assert text.count("volume_db = -9.0") == 1
    # It reads back through the loader: the same values, the rest untouched.
    config.write_text(text.split("[extra]")[0])
    settings = load_settings(config_path=config, env={})
    assert (settings.volume_db, settings.output_device, settings.engine) == (
        -9.0,
        'USB "Headphones"',
        "sketch",
    )


def test_save_settings_refuses_a_bad_value_and_writes_nothing(tmp_path):
    from core.settings import save_settings

    config = tmp_path / "config.toml"
    with pytest.raises(ValidationError, match="volume_db must be between -60 and 0"):
        save_settings({"volume_db": 6.0}, config)
    with pytest.raises(ValidationError, match="Unknown setting"):
        save_settings({"volume": 6.0}, config)
    assert not config.exists()
    save_settings({"output_device": "default"}, config)
    assert load_settings(config_path=config, env={}).output_device == "default"

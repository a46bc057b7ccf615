"""Settings: file, env and flag layering, validation errors naming the key, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Settings, dump_yaml, load, to_builtins
from monitor.errors import ConfigError
from monitor.secret import MASK, Secret

CONFIGS = Path(__file__).resolve().parent.parent / "fixtures" / "configs"


def test_valid_file_loads_its_values():
    # Act
    settings = load(CONFIGS / "valid.yaml", env={})

    # Assert
    assert settings.http.listen == "0.0.0.0:9500"
    assert settings.http.api_token is None
    assert (settings.log.level, settings.log.format) == ("debug", "json")
    assert settings.bus.queue_max_events == 1000
    assert settings.aggregate.grace_ms == 1500
    assert settings.aggregate.windows_s == (10, 60, 300)
    assert settings.detect.burst.floor_usd_by_asset == {"BTC": 2_000_000.0}
    assert settings.detect.crash.windows_s == (60, 300)
    assert settings.detect.crash.min_drop == (0.02, 0.04)
    assert settings.detect.lifecycle.for_s == 30
    assert settings.assets.watch == ("BTC", "ETH")
    assert settings.sources.enabled == ("binance_usdm",)


def test_valid_file_keeps_defaults_for_keys_it_does_not_set():
    # Act
    settings = load(CONFIGS / "valid.yaml", env={})

    # Assert
    assert settings.aggregate.micro_batch_ms == 250
    assert settings.bus.enqueue_timeout_ms == 50
    assert settings.detect.lifecycle.resolve_after_s == 600
    assert settings.assets.classes == Settings().assets.classes


def test_empty_file_gives_defaults():
    # Act
    settings = load(CONFIGS / "empty.yaml", env={})

    # Assert
    assert settings == Settings()


def test_no_file_and_no_env_gives_defaults():
    # Act
    settings = load(None, env={})

    # Assert
    assert settings == Settings()
    assert settings.http.listen == "127.0.0.1:9464"
    assert settings.aggregate.grace_ms == 250
    assert settings.aggregate.allowed_lateness_ms == 2_000


@pytest.mark.parametrize(
    ("name", "expected_start"),
    [
        ("bad_port.yaml", "config: http.listen: "),
        ("unknown_key.yaml", "config: aggregate.bogus: unknown key"),
        ("negative_grace.yaml", "config: aggregate.grace_ms: "),
        ("burst_window_not_in_windows.yaml", "config: detect.burst.window_s: "),
    ],
)
def test_bad_file_raises_config_error_naming_the_key(name, expected_start):
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(CONFIGS / name, env={})

    # Assert
    assert str(excinfo.value).startswith(expected_start)
    assert excinfo.value.retriable is False


def test_bad_port_message_shows_value_and_origin():
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(CONFIGS / "bad_port.yaml", env={})

    # Assert
    message = str(excinfo.value)
    assert "got 'nope'" in message
    assert message.endswith("(from %s)" % (CONFIGS / "bad_port.yaml"))


def test_unknown_key_message_names_the_file():
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(CONFIGS / "unknown_key.yaml", env={})

    # Assert
    assert str(excinfo.value) == "config: aggregate.bogus: unknown key (from %s)" % (
        CONFIGS / "unknown_key.yaml"
    )


def test_negative_grace_message_is_exact():
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(CONFIGS / "negative_grace.yaml", env={})

    # Assert
    assert str(
        excinfo.value
    ) == "config: aggregate.grace_ms: Expected `int` >= 0, got -5 (from %s)" % (
        CONFIGS / "negative_grace.yaml"
    )


def test_burst_window_not_in_windows_message_is_exact():
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(CONFIGS / "burst_window_not_in_windows.yaml", env={})

    # Assert
    assert str(excinfo.value) == (
        "config: detect.burst.window_s: 120 is not one of aggregate.windows_s [10, 60, 300]"
    )


def test_invalid_yaml_raises_config_error_naming_the_file():
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(CONFIGS / "bad_yaml.yaml", env={})

    # Assert
    message = str(excinfo.value)
    assert message.startswith("config: %s: not valid yaml: " % (CONFIGS / "bad_yaml.yaml"))
    assert "\n" not in message


def test_missing_file_raises_config_error(tmp_path):
    # Arrange
    path = tmp_path / "absent.yaml"

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        load(path, env={})
    assert str(excinfo.value).startswith("config: %s: cannot read: " % path)


def test_top_level_list_is_refused(tmp_path):
    # Arrange
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        load(path, env={})
    assert str(excinfo.value) == "config: %s: the top level must be a mapping" % path


def test_crash_min_drop_must_match_windows(tmp_path):
    # Arrange
    path = tmp_path / "crash.yaml"
    path.write_text("detect:\n  crash:\n    windows_s: [300, 900]\n    min_drop: [0.03]\n")

    # Act / Assert
    with pytest.raises(ConfigError, match=r"^config: detect\.crash\.min_drop: "):
        load(path, env={})


def test_env_beats_the_file():
    # Act
    settings = load(CONFIGS / "valid.yaml", env={"LIQMON_AGGREGATE__GRACE_MS": "500"})

    # Assert
    assert settings.aggregate.grace_ms == 500
    assert settings.http.listen == "0.0.0.0:9500"


def test_flag_override_beats_env():
    # Act
    settings = load(
        CONFIGS / "valid.yaml",
        env={"LIQMON_HTTP__LISTEN": "0.0.0.0:1234"},
        overrides={"http.listen": "127.0.0.1:0"},
    )

    # Assert
    assert settings.http.listen == "127.0.0.1:0"


def test_env_values_are_yaml_scalars():
    # Act
    settings = load(
        None,
        env={
            "LIQMON_ASSETS__WATCH": "[BTC, SOL]",
            "LIQMON_DETECT__BURST__Z_WARNING": "3.5",
            "LIQMON_LOG__FORMAT": "json",
        },
    )

    # Assert
    assert settings.assets.watch == ("BTC", "SOL")
    assert settings.detect.burst.z_warning == 3.5
    assert settings.log.format == "json"


def test_env_ignores_other_names_and_liqmon_test_names():
    # Act
    settings = load(None, env={"HOME": "/root", "LIQMON_TEST_KAFKA": "1", "liqmon_x": "1"})

    # Assert
    assert settings == Settings()


def test_bad_env_value_names_the_env_variable():
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(None, env={"LIQMON_AGGREGATE__GRACE_MS": "-1"})

    # Assert
    assert str(excinfo.value) == (
        "config: aggregate.grace_ms: Expected `int` >= 0, got -1 "
        "(from env LIQMON_AGGREGATE__GRACE_MS)"
    )


def test_unknown_env_key_names_the_env_variable():
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(None, env={"LIQMON_HTTP__PORT": "80"})

    # Assert
    assert str(excinfo.value) == "config: http.port: unknown key (from env LIQMON_HTTP__PORT)"


def test_bad_flag_names_the_flag():
    # Act
    with pytest.raises(ConfigError) as excinfo:
        load(None, env={}, overrides={"bus.kind": "redis"})

    # Assert
    message = str(excinfo.value)
    assert message.startswith("config: bus.kind: ")
    assert message.endswith("got 'redis' (from flag)")


def test_override_through_a_scalar_is_refused():
    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        load(CONFIGS / "valid.yaml", env={}, overrides={"http.listen.port": "1"})
    assert str(excinfo.value) == "config: flag: http.listen is not a section"


def test_toml_file_works(tmp_path):
    # Arrange
    path = tmp_path / "liqmon.toml"
    path.write_text(
        '[http]\nlisten = "127.0.0.1:9999"\n\n'
        "[aggregate]\ngrace_ms = 750\nwindows_s = [10, 60, 300, 900, 3600]\n"
    )  # 1800: the default detect.crash windows reach 60 min

    # Act
    settings = load(path, env={})

    # Assert
    assert settings.http.listen == "127.0.0.1:9999"
    assert settings.aggregate.grace_ms == 750
    assert settings.aggregate.windows_s == (10, 60, 300, 900, 3600)


def test_invalid_toml_raises_config_error(tmp_path):
    # Arrange
    path = tmp_path / "liqmon.toml"
    path.write_text("[http\nlisten = 1\n")

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        load(path, env={})
    assert str(excinfo.value).startswith("config: %s: not valid toml: " % path)


def test_api_token_from_env_is_a_secret_and_is_masked_in_dumps():
    # Arrange
    token = "tok-3f9a7c21-very-secret"  # noqa: S105 - a test value, not a credential

    # Act
    settings = load(None, env={"LIQMON_HTTP__API_TOKEN": token})
    dumped = dump_yaml(settings)

    # Assert
    assert isinstance(settings.http.api_token, Secret)
    assert settings.http.api_token.reveal() == token
    assert MASK == "**********"
    assert MASK in dumped
    assert token not in dumped
    assert to_builtins(settings)["http"]["api_token"] == MASK
    assert token not in repr(settings)


def test_settings_are_frozen():
    # Arrange
    settings = load(None, env={})

    # Act / Assert
    with pytest.raises(AttributeError):
        settings.http = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.aggregate.grace_ms = 1  # type: ignore[misc]
    assert settings.aggregate.grace_ms == 250


def test_all_digit_api_token_from_env():
    # Act
    settings = load(None, env={"LIQMON_HTTP__API_TOKEN": "123456"})

    # Assert
    assert settings.http.api_token == Secret("123456")


def test_a_section_error_never_echoes_secret_values():
    env = {
        "LIQMON_BUS__KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "LIQMON_BUS__KAFKA__SASL_PASSWORD": "hunter2-secret",
    }

    with pytest.raises(ConfigError) as caught:
        load(None, env=env)

    assert "bus.kafka" in str(caught.value)
    assert "hunter2" not in str(caught.value)

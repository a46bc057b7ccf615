"""Config of threshold rules, liquidity, saturation and contagion: one-line errors."""

import pytest

from monitor.config import load
from monitor.errors import ConfigError


def rules(*items):
    return load(None, env={}, overrides={"detect.rules": list(items)})


def test_rules_load_with_defaults():
    (usd, breadth) = rules(
        {"name": "btc-longs", "usd": 5_000_000, "window_s": 60, "side": "long", "scope": "BTC"},
        {"name": "three", "min_assets": 3, "window_s": 900},
    ).detect.rules
    assert (usd.usd, usd.side, usd.scope, usd.severity) == (5e6, "long", "BTC", "warning")
    assert (breadth.min_assets, breadth.scope, breadth.usd) == (3, "market", None)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"name": "x", "usd": 1e6, "min_assets": 2, "window_s": 60},
            "config: detect.rules[0]: rule 'x': set exactly one of usd and min_assets",
        ),
        (
            {"name": "x", "window_s": 60},
            "config: detect.rules[0]: rule 'x': set exactly one of usd and min_assets",
        ),
        (
            {"name": "x", "usd": 1e6, "window_s": 61},
            "config: detect.rules[0].window_s: rule 'x': 61 is not one of aggregate.windows_s",
        ),
        (
            {"name": "x", "usd": 1e6, "window_s": 60, "side": "up"},
            "config: detect.rules[0].side: Invalid enum value 'up', got 'up' (from flag)",
        ),
        (
            {"name": "x", "usd": -1, "window_s": 60},
            "config: detect.rules[0].usd: Expected `float` > 0.0, got -1 (from flag)",
        ),
        (
            {"name": "x", "min_assets": 2, "window_s": 60, "scope": "BTC"},
            "rule 'x': a min_assets rule's scope is market or an asset class, got 'BTC'",
        ),
        ({"usd": 1e6, "window_s": 60}, "config: detect.rules[0]: Object missing required field"),
        ({"name": " ", "usd": 1e6, "window_s": 60}, "a rule needs a non-empty name"),
        (
            {"name": "x", "usd": 1e6, "window_s": 60, "sid": "long"},
            "config: detect.rules[0].sid: unknown key (from flag)",
        ),
    ],
)
def test_bad_rule_is_one_line_naming_key_and_value(rule, message):
    with pytest.raises(ConfigError) as info:
        rules(rule)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_duplicate_rule_names_are_refused():
    with pytest.raises(ConfigError, match=r"detect.rules\[1\].name: duplicate 'a'"):
        rules(
            {"name": "a", "usd": 1e6, "window_s": 60},
            {"name": "a", "min_assets": 2, "window_s": 60},
        )


def test_rules_from_a_yaml_file_name_the_file(tmp_path):
    path = tmp_path / "liqmon.yaml"
    path.write_text("detect:\n  rules:\n    - {name: r, usd: 0, window_s: 60}\n")
    with pytest.raises(ConfigError, match=r"detect.rules\[0\].usd: .*got 0 \(from .*liqmon.yaml\)"):
        load(path, env={})


def test_new_detector_sections_validate():
    cfg = load(None, env={}, overrides={"detect.liquidity.ratio_warning": 3}).detect
    assert cfg.liquidity.ratio_warning == 3.0
    assert cfg.saturation.min_share == 0.8
    assert cfg.contagion.window_h == 12.0
    with pytest.raises(ConfigError, match=r"detect.saturation.min_share: .*got 1.5"):
        load(None, env={}, overrides={"detect.saturation.min_share": 1.5})
    with pytest.raises(ConfigError, match=r"detect.contagion.window_h: .*got 0"):
        load(None, env={}, overrides={"detect.contagion.window_h": 0})

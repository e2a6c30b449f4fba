"""Routing of topics to departments and time limits (hotline.routing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hotline import routing
from hotline.routing import INTENTS_FILE, Route, Taxonomy


@pytest.fixture(autouse=True)
def _fresh_caches():
    routing.clear_cache()
    yield
    routing.clear_cache()


@pytest.fixture(scope="module")
def spec() -> dict:
    """intents.yml read independently of the code under test."""
    return yaml.safe_load(INTENTS_FILE.read_text(encoding="utf-8"))


def write(tmp_path: Path, text: str, name: str = "routing.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults -----------------------------------------------------------------------------


def test_defaults_for_all_15_topics_equal_intents_yml(spec: dict) -> None:
    taxonomy = routing.load_taxonomy()
    assert len(spec["topics"]) == 15
    assert list(taxonomy.topics) == list(spec["topics"])
    for name, expected in spec["topics"].items():
        topic = taxonomy.topics[name]
        assert (topic.name, topic.zh, topic.covers) == (name, expected["zh"], expected["covers"])
        assert routing.route(name) == Route(expected["department"], expected["days"])
        assert isinstance(topic.days, int) and topic.days > 0


def test_dialogue_intents_are_loaded(spec: dict) -> None:
    taxonomy = routing.load_taxonomy()
    assert list(taxonomy.dialogue) == list(spec["dialogue"])
    assert taxonomy.dialogue["request_human"].description == spec["dialogue"]["request_human"]
    assert taxonomy.intent_names == (*spec["topics"], *spec["dialogue"])


def test_known_examples() -> None:
    assert routing.route("tax") == Route(department="税务局", days=5)
    assert routing.route("contract_dispute") == Route(department="司法局", days=15)
    assert routing.load_taxonomy().topics["land"].zh == "用地与不动产"


def test_the_default_load_is_cached_and_read_only() -> None:
    first = routing.load_taxonomy()
    assert routing.load_taxonomy() is first
    with pytest.raises(TypeError):
        first.topics["tax"] = first.topics["land"]  # type: ignore[index]


@pytest.mark.parametrize("name", ["taxes", "", "Tax", "greet"])
def test_unknown_topics_raise_a_clear_error(name: str) -> None:
    with pytest.raises(ValueError, match="topic") as err:
        routing.route(name)
    assert repr(name) in str(err.value)


def test_a_dialogue_intent_is_not_routable() -> None:
    with pytest.raises(ValueError, match="dialogue intent"):
        routing.route("request_human")


def test_unknown_topic_message_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="start_business.*misconduct"):
        routing.route("no_such_topic")


# --- overrides ----------------------------------------------------------------------------


def test_partial_overrides_merge_with_the_defaults(tmp_path: Path, spec: dict) -> None:
    path = write(
        tmp_path,
        "tax:\n  department: 国家税务总局某市税务局\n  days: 3\nland:\n  days: 7\n"
        "ip:\n  department: 市场监督管理局（知识产权局）\n",
    )
    taxonomy = routing.load_taxonomy(path)
    assert taxonomy.route("tax") == Route("国家税务总局某市税务局", 3)
    assert taxonomy.route("land") == Route(spec["topics"]["land"]["department"], 7)
    assert taxonomy.route("ip") == Route(
        "市场监督管理局（知识产权局）", spec["topics"]["ip"]["days"]
    )
    assert taxonomy.route("financing") == routing.route("financing")  # untouched
    assert taxonomy.topics["tax"].zh == "纳税与缴费"  # labels stay the taxonomy's
    assert taxonomy.sources == (INTENTS_FILE, path.resolve())


def test_overrides_do_not_leak_into_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "tax:\n  days: 1\n")
    assert routing.route("tax", path) == Route("税务局", 1)
    assert routing.route("tax") == Route("税务局", 5)


def test_route_accepts_a_taxonomy_or_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, "misconduct:\n  days: 2\n")
    taxonomy = routing.load_taxonomy(str(path))
    assert isinstance(taxonomy, Taxonomy)
    assert routing.route("misconduct", taxonomy).days == 2
    assert routing.route("misconduct", str(path)).days == 2
    assert routing.load_taxonomy(path) is routing.load_taxonomy(str(path))  # one cached load


def test_the_intents_yml_shape_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "topics:\n  utilities:\n    department: 供电公司\n")
    assert routing.route("utilities", path).department == "供电公司"


def test_an_empty_override_file_keeps_the_defaults(tmp_path: Path) -> None:
    assert routing.load_taxonomy(write(tmp_path, "")).topics == routing.load_taxonomy().topics


def test_a_missing_override_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        routing.load_taxonomy(tmp_path / "absent.yml")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("tax:\n  days: 0\n", "tax.days"),
        ("tax:\n  days: -3\n", "tax.days"),
        ("tax:\n  days: 2.5\n", "tax.days"),
        ("tax:\n  days: '5'\n", "tax.days"),
        ("tax:\n  days: yes\n", "tax.days"),
        ("tax:\n  days:\n", "tax.days"),
        ("tax:\n  department: ''\n", "tax.department"),
        ("tax:\n  department: 12\n", "tax.department"),
        ("taxes:\n  days: 5\n", "taxes"),
        ("greet:\n  days: 5\n", "greet"),
        ("tax:\n  dept: 税务局\n", "tax.dept"),
        ("tax:\n  zh: 税\n", "tax.zh"),
        ("tax: 5\n", "tax"),
        ("- tax\n", "expected a mapping"),
        ("tax: [\n", "not valid YAML"),
    ],
)
def test_invalid_overrides_name_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text, "bad-routing.yml")
    with pytest.raises(ValueError) as err:
        routing.load_taxonomy(path)
    message = str(err.value)
    assert "bad-routing.yml" in message
    assert key in message


def test_an_invalid_override_is_not_cached_as_good(tmp_path: Path) -> None:
    path = write(tmp_path, "tax:\n  days: 0\n")
    with pytest.raises(ValueError):
        routing.route("tax", path)
    path.write_text("tax:\n  days: 4\n", encoding="utf-8")
    assert routing.route("tax", path).days == 4

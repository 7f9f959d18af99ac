"""Unit and property tests for the registry's pure parts: tag grammar, versions, refs, messages, state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmlops.errors import RegistryError
from gitmlops.registry.events import Event
from gitmlops.registry.messages import compose_message, gto_wording, note_of, parse_metadata
from gitmlops.registry.state import build_artifact
from gitmlops.registry.tags import (
    ASSIGN,
    DEPRECATE,
    DEREGISTER,
    REGISTER,
    UNASSIGN,
    TagName,
    Version,
    check_name,
    format_tag,
    is_valid_name,
    parse_ref,
    parse_tag,
)

_alnum = st.sampled_from("abcxyzABZ0189")
_inner = st.text(alphabet="abcXYZ019_-/", max_size=8)
simple_names = st.builds(lambda a, mid, b: a + mid + b, _alnum, _inner, _alnum).filter(is_valid_name)
dirnames = st.lists(st.text(alphabet="abz09_-", min_size=1, max_size=5), min_size=1, max_size=3).map("/".join)
names = st.one_of(simple_names, st.builds(lambda d, n: f"{d}:{n}", dirnames, simple_names)).filter(is_valid_name)
stages = st.one_of(st.sampled_from(["dev", "staging", "prod"]), simple_names)
pre_ids = st.one_of(st.integers(0, 30).map(str), st.text(alphabet="abrc-", min_size=1, max_size=4))
versions = st.builds(
    lambda a, b, c, pre: str(Version(a, b, c, ".".join(pre))),
    st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.lists(pre_ids, max_size=2),
).filter(Version.is_valid)
counters = st.one_of(st.none(), st.integers(0, 10**6))


@st.composite
def tag_names(draw: st.DrawFn) -> TagName:
    kind = draw(st.sampled_from([REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE]))
    name = draw(names)
    if kind in (REGISTER, DEREGISTER):
        return TagName(kind, name, version=draw(versions), counter=draw(counters))
    if kind in (ASSIGN, UNASSIGN):
        return TagName(kind, name, stage=draw(stages), counter=draw(counters))
    return TagName(kind, name, counter=draw(counters))


@given(tag_names())
@settings(max_examples=400)
def test_parse_format_roundtrip(tag: TagName) -> None:
    text = format_tag(tag)
    assert parse_tag(text) == tag
    assert format_tag(parse_tag(text)) == text  # type: ignore[arg-type]


@given(st.text(max_size=40))
@settings(max_examples=500)
def test_garbage_never_parses_unless_canonical(text: str) -> None:
    parsed = parse_tag(text)
    if parsed is not None:  # whatever parses is a canonical tag name: it formats back to itself
        assert format_tag(parsed) == text


@given(st.text(alphabet="ab@#!v0.1=:/-_ ", max_size=24))
@settings(max_examples=500)
def test_near_miss_strings_parse_only_to_canonical_tags(text: str) -> None:
    parsed = parse_tag(text)
    if parsed is not None:
        assert format_tag(parsed) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model@v1.2.3", TagName(REGISTER, "model", version="v1.2.3")),
        ("model@v1.2.3!", TagName(DEREGISTER, "model", version="v1.2.3")),
        ("model#prod#7", TagName(ASSIGN, "model", stage="prod", counter=7)),
        ("model#prod!#8", TagName(UNASSIGN, "model", stage="prod", counter=8)),
        ("model#prod", TagName(ASSIGN, "model", stage="prod")),
        ("model@deprecated", TagName(DEPRECATE, "model")),
        ("dir/sub=churn@v0.1.0", TagName(REGISTER, "dir/sub:churn", version="v0.1.0")),
        ("refs/tags/model@v1.0.0-rc.1+b5", TagName(REGISTER, "model", version="v1.0.0-rc.1+b5")),
    ],
)
def test_known_tags(text: str, expected: TagName) -> None:
    assert parse_tag(text) == expected


@pytest.mark.parametrize(
    "text",
    ["v1.0.0", "model", "model@1.0.0", "model@v1.0", "model@v01.0.0", "model#prod#01", "model#prod#",
     "-model@v1.0.0", "model @v1.0.0", "model@v1.0.0!!", "../x=model@v1.0.0", "a//b@v1.0.0",
     ".hidden=model@v1.0.0", "model@latest", "model#prod#3#4", "mo@del@v1.0.0", "model@deprecated!"],
)
def test_not_registry_tags(text: str) -> None:
    assert parse_tag(text) is None


@pytest.mark.parametrize("name", ["has space", "a@b", "a#b", "-lead", "../x", "x/../y:m", "a:", ":a", "", "é"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(RegistryError, match="invalid artifact name"):
        check_name(name)


def test_monorepo_names_map_to_tag_form() -> None:
    assert format_tag(TagName(ASSIGN, "nlp/models:bert", stage="prod", counter=2)) == "nlp/models=bert#prod#2"


@pytest.mark.parametrize("text", ["1.0.0", "v1", "v1.0", "v01.2.3", "v1.2.3-", "V1.2.3", "v1.2.3.4", ""])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(RegistryError, match="invalid version"):
        Version.parse(text)


def test_version_precedence_follows_semver() -> None:
    ordered = ["v0.9.0", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta",
               "v1.0.0-beta.2", "v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "v1.0.1", "v1.10.0", "v2.0.0"]
    assert sorted(ordered, key=Version.parse) == ordered
    assert str(Version.parse("v1.2.3").bump("minor")) == "v1.3.0"
    assert str(Version.parse("v1.2.3").bump("major")) == "v2.0.0"
    assert str(Version.parse("v1.0.0-rc.1").bump("patch")) == "v1.0.0"


@given(versions, versions)
def test_version_order_is_total_and_consistent(a: str, b: str) -> None:
    va, vb = Version.parse(a), Version.parse(b)
    assert (va < vb) + (vb < va) + (a == b) == 1


def test_refs() -> None:
    assert parse_ref("model@v1.0.0").version == "v1.0.0"
    assert parse_ref("model@latest").version == "latest"
    assert parse_ref("model#prod").stage == "prod"
    assert parse_ref("dir/sub:model@greatest").name == "dir/sub:model"
    for bad in ["model", "model@", "model#", "model@1.0", "model#pr od", "mo del@v1.0.0", "model@v1.0.0#prod"]:
        with pytest.raises(RegistryError):
            parse_ref(bad)


def test_messages_start_with_gto_wording_and_carry_metadata() -> None:
    text = compose_message(gto_wording(REGISTER, "model", version="v1.0.0"), "retrained", {"commit": "abc"})
    assert text.startswith("Registering artifact model version v1.0.0\n\nretrained\n\n")
    metadata = parse_metadata(text)
    assert metadata is not None and metadata.pop("id") and metadata == {"schema": 1, "commit": "abc"}
    assert note_of(text) == "Registering artifact model version v1.0.0\n\nretrained"
    assert parse_metadata("Registering artifact model version v1.0.0") is None
    assert parse_metadata("x\n\ngitmlops-metadata:\n{broken") is None
    assert gto_wording(UNASSIGN, "m", version="v1.0.0", stage="prod") == (
        "Unassigning stage 'prod' to artifact 'm' version 'v1.0.0'"
    )
    assert gto_wording(DEPRECATE, "m") == "Deprecating artifact 'm'"


def _event(tag: str, commit: str, ts: int) -> Event:
    parsed = parse_tag(tag)
    assert parsed is not None
    return Event(parsed.kind, parsed.name, tag, commit, ts, "a", "a@x", parsed.version, parsed.stage, parsed.counter)


def test_stage_order_follows_counter_not_time() -> None:
    # Clock skew: the later promotion (#3) carries an earlier timestamp than #2.
    events = [
        _event("m@v1.0.0", "c1", 100),
        _event("m@v2.0.0", "c2", 100),
        _event("m#prod#2", "c1", 200),
        _event("m#prod#3", "c2", 150),
    ]
    state = build_artifact("m", events)
    assert state.stages["prod"] == "v2.0.0"
    assert state.counter == 3
    assert [e.tag for e in state.events if e.counter] == ["m#prod#2", "m#prod#3"]


def test_same_second_promotions_resolve_by_counter() -> None:
    events = [_event("m@v1.0.0", "c1", 100), _event("m@v1.1.0", "c2", 100)]
    events += [_event(f"m#prod#{n}", "c1" if n % 2 else "c2", 100) for n in range(1, 8)]
    assert build_artifact("m", events).stages["prod"] == "v1.0.0"  # #7 is odd -> c1


def test_unassign_falls_back_and_deregistered_versions_leave_stages() -> None:
    events = [
        _event("m@v1.0.0", "c1", 1),
        _event("m@v2.0.0", "c2", 2),
        _event("m#prod#1", "c1", 3),
        _event("m#prod#2", "c2", 4),
        _event("m#prod!#3", "c2", 5),
    ]
    state = build_artifact("m", events)
    assert state.stages["prod"] == "v1.0.0"
    state = build_artifact("m", [*events, _event("m@v1.0.0!", "c1", 6)])
    assert state.stages["prod"] is None
    assert state.latest is not None and state.latest.version == "v2.0.0"
    assert not state.versions["v1.0.0"].active


def test_latest_and_greatest_differ_after_lower_registration() -> None:
    events = [_event("m@v2.0.0", "c2", 1), _event("m@v1.5.0", "c1", 2)]
    state = build_artifact("m", events)
    assert state.latest is not None and state.latest.version == "v1.5.0"
    assert state.greatest is not None and state.greatest.version == "v2.0.0"


def test_deprecation_and_revival() -> None:
    events = [_event("m@v1.0.0", "c1", 1), _event("m@deprecated", "c1", 2)]
    assert build_artifact("m", events).deprecated
    assert not build_artifact("m", [*events, _event("m@v1.1.0", "c2", 3)]).deprecated


def test_stage_on_unregistered_commit_is_kept_as_commit() -> None:
    state = build_artifact("m", [_event("m#dev#1", "f" * 40, 1)])
    assert state.stages["dev"] == "f" * 40
    assert not state.versions["f" * 40].registered


def test_tag_regex_has_no_catastrophic_backtracking() -> None:
    text = "a" + "-" * 5000 + "@v1.0.0x"
    assert parse_tag(text) is None

import pytest

from hatch_pylon.wasm.names import compatible, parse_name


@pytest.mark.parametrize(
    ("wanted", "offered", "expected"),
    [
        ("a:b/c@1.0.0", "a:b/c@1.0.0", True),
        ("a:b/c@1.0.0", "a:b/c@1.9.3", True),
        ("a:b/c@1.4.0", "a:b/c@1.0.0", True),  # wasmtime links by track, not by ordering
        ("a:b/c@1.0.0", "a:b/c@2.0.0", False),
        ("a:b/c@0.2.0", "a:b/c@0.2.7", True),
        ("a:b/c@0.2.0", "a:b/c@0.3.0", False),
        ("a:b/c@0.0.1", "a:b/c@0.0.2", False),  # 0.0.x only matches exactly
        ("a:b/c@1.0.0-rc.1", "a:b/c@1.0.0", False),  # pre-releases only match exactly
        ("a:b/c@1.0.0", "a:b/c@1.1.0-rc.1", False),
        ("a:b/c@1.0.0", "a:b/d@1.0.0", False),
        ("a:b/c", "a:b/c@1.0.0", False),
        ("run", "run", True),
    ],
)
def test_semver_tracks_follow_wasmtime(wanted: str, offered: str, expected: bool) -> None:
    assert compatible(parse_name(wanted), parse_name(offered)) is expected


def test_parse_name_parts() -> None:
    name = parse_name("wasi:cli/run@0.2.3+build.5")
    assert (name.base, name.version, name.track) == ("wasi:cli/run", (0, 2, 3), "wasi:cli/run@0.2")
    assert parse_name("plain").version is None
    assert parse_name("a:b/c@not-semver").version is None

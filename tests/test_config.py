"""builder.config: the one validation helper (expect, expect_fields, the kinds) and ces.yml, read
once per command with its `executor:` and `slurm:` sections checked."""

import pytest

from builder import config
from builder.config import (BOOL, MAPPING, TEXT, Kind, choice, expect, expect_fields, flag, list_of, number,
                            optional)
from builder.errors import ConfigError, ExitCode


@pytest.mark.parametrize("kind, good, bad", [
    (TEXT, "white", "  "), (BOOL, True, "yes"), (MAPPING, {}, []), (choice("a", "b"), "a", "c"),
    (flag("auto"), "auto", "sometimes"), (flag(), False, 0), (number(min=0), 0, -1),
    (number(min=0, above=True), 0.5, 0), (number(min=0, max=6, integer=True), 6, 2.5),
    (number(), 1e9, float("nan")), (list_of(TEXT), ["a"], ["a", 3]), (optional(TEXT), None, 3),
])
def test_a_kind_accepts_its_values_and_refuses_others(kind, good, bad):
    assert expect(good, kind, "f.yml: x") == good
    with pytest.raises(ConfigError) as err:
        expect(bad, kind, "f.yml: x")
    assert str(err.value.message) == f"f.yml: x: expected {kind.what}, not {config.shown(bad)}"
    assert err.value.exit_code == ExitCode.CONFIG


def test_a_missing_required_field_is_named():
    with pytest.raises(ConfigError, match=r"^f.yml: s.port: expected an integer ≥ 1, found none$"):
        expect_fields({}, {"port": number(min=1, integer=True)}, "f.yml: s", required=("port",))
    assert expect_fields({"port": 80}, {"port": number(min=1, integer=True)}, "f.yml: s", required=("port",))


def test_an_unknown_key_guesses_the_typo():
    fields = {"partition": TEXT, "account": TEXT}
    with pytest.raises(ConfigError, match=r"f.yml: s.parition: unknown key 'parition'. Did you mean 'partition'\?"):
        expect_fields({"parition": "gpu"}, fields, "f.yml: s")
    assert expect_fields({"partition": "gpu"}, fields, "f.yml: s") == {"partition": "gpu"}


def test_where_can_be_a_function_of_the_key():
    with pytest.raises(ConfigError, match=r"^_quarto.yml:7: width: expected"):
        expect_fields({"width": "wide"}, {"width": number()}, lambda key: f"_quarto.yml:7: {key}")


def test_a_huge_value_is_shown_short():
    with pytest.raises(ConfigError) as err:
        expect("x" * 10_000, BOOL, "f.yml: x")
    assert len(err.value.message) < 200


def test_a_custom_kind():
    even = Kind(lambda v: isinstance(v, int) and v % 2 == 0, "an even number")
    assert expect(4, even, "w") == 4
    with pytest.raises(ConfigError, match="w: expected an even number, not 3"):
        expect(3, even, "w")


# -- ces.yml ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, said", [
    ("executor: kubernetes\n", "ces.yml: executor: expected one of local, slurm"),
    ("executor: {quik: slurm}\n", "ces.yml: executor: expected one of local, slurm"),
    ("slurm: {cluster: pbs}\n", "ces.yml: slurm.cluster: expected one of slurm, local, debug, not 'pbs'"),
    ("slurm: {profiles: {full: 3}}\n", "ces.yml: slurm.profiles: expected a mapping of profiles"),
    ("slurm: {lost_after_s: 0}\n", "ces.yml: slurm.lost_after_s: expected a number > 0, not 0"),
    ("slurm: 3\n", "ces.yml: slurm: expected a mapping, not 3"),
    ("check: [1]\n", "ces.yml: check: expected a mapping, not [1]"),
    ("buidl: {}\n", "ces.yml: buidl: unknown key 'buidl'. Did you mean 'build'?"),
    ("- executor\n", "ces.yml: expected a mapping (executor:, slurm:, check:, build:)"),
])
def test_a_bad_ces_yml_is_one_line(tmp_path, text, said):
    (tmp_path / "ces.yml").write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(tmp_path)
    assert err.value.message.startswith(said) and "\n" not in err.value.message


def test_a_good_ces_yml_is_read_once_and_again_when_it_changes(tmp_path):
    path = tmp_path / "ces.yml"
    path.write_text("executor: {full: slurm}\nslurm: {cluster: debug, partition: gpu, profiles: {full: {qos: long}}}\n")
    data = config.load(tmp_path)
    assert data["slurm"]["partition"] == "gpu" and config.load(tmp_path) is data   # read once
    path.write_text("executor: local\n")
    assert config.load(tmp_path) == {"executor": "local"}                           # changed: read again
    assert config.load(tmp_path / "nowhere") == {} and config.load(None) == {}


def test_a_section_is_checked_against_its_table(tmp_path):
    (tmp_path / "ces.yml").write_text("check:\n  text_min_px: -2\n")
    table = {"text_min_px": number(min=0, above=True)}
    with pytest.raises(ConfigError, match=r"^ces.yml: check.text_min_px: expected a number > 0, not -2$"):
        config.section(tmp_path, "check", fields=table)
    (tmp_path / "ces.yml").write_text("check:\n  text_min_px: 14\n")
    assert config.section(tmp_path, "check", fields=table) == {"text_min_px": 14}
    assert config.section(tmp_path, "build") == {}

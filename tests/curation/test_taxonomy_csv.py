"""Taxonomy CSV import/export in the public benchmark's columns, checked against the public CSV itself."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation.cli import main
from curation.taxonomy.checks import check_taxonomy
from curation.taxonomy.csv_io import COLUMNS, import_csv
from curation.taxonomy.store import list_actions, load_taxonomy, taxonomy_path

# the public taxonomy CSV, when the workspace's shared/ folder sits next to the checkout (as in CI)
PUBLIC = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "viddiffbench" / "difference_taxonomy.csv"
)
needs_public = pytest.mark.skipif(not PUBLIC.exists(), reason="public taxonomy CSV not available")


def rows(text: str) -> Counter:
    return Counter(tuple(r[c] for c in COLUMNS) for r in csv.DictReader(io.StringIO(text)))


def run(*args, ok=True):
    res = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, res.output
    return res


@needs_public
def test_public_csv_round_trips(tmp_path):
    out = tmp_path / "export.csv"
    res = run("taxonomy", "import", PUBLIC, tmp_path)
    assert "ballsports_1: 16 added" in res.output
    run("taxonomy", "export", tmp_path, "-o", out)
    original = rows(PUBLIC.read_text(encoding="utf-8"))
    assert rows(out.read_text(encoding="utf-8")) == original
    assert sum(original.values()) == len(original)  # no duplicate rows hidden by the Counter
    actions = list_actions(tmp_path)
    assert len(actions) == len({r[0] for r in original})
    for a in actions:
        tax = load_taxonomy(taxonomy_path(tmp_path, a))
        assert not [i for i in check_taxonomy(tax) if i.level == "error"], a
        keys = [int(k) for k in tax["differences"]]
        assert tax["next_key"] == max(keys) + 1
        assert all(
            d["status"] == "active" and d["origin"] == f"csv:{PUBLIC.name}"
            for d in tax["differences"].values()
        )
    # importing the same file again changes nothing: no new versions, no history
    run("taxonomy", "import", PUBLIC, tmp_path)
    assert not (tmp_path / "taxonomies" / "history").exists()
    assert {load_taxonomy(taxonomy_path(tmp_path, a))["version"] for a in actions} == {1}


@needs_public
def test_changed_csv_updates_by_key_and_retires_missing(tmp_path):
    import_csv(tmp_path, PUBLIC, actions=["fitness_4"])
    reader = list(csv.DictReader(io.StringIO(PUBLIC.read_text(encoding="utf-8"))))
    mine = [r for r in reader if r["action"] == "fitness_4"]
    first, dropped = mine[0]["diff_key"], mine[1]["diff_key"]
    mine[0]["description"] = "a reworded statement"
    edited = tmp_path / "edited.csv"
    with open(edited, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        w.writeheader()
        w.writerows(r for r in mine if r["diff_key"] != dropped)
    report = import_csv(tmp_path, edited, retire_missing=True)
    assert report.updated["fitness_4"] == [first] and report.retired["fitness_4"] == [dropped]
    tax = load_taxonomy(taxonomy_path(tmp_path, "fitness_4"))
    assert tax["version"] == 2 and tax["differences"][dropped]["status"] == "retired"
    assert tax["differences"][first]["description"] == "a reworded statement"
    exported = run("taxonomy", "export", tmp_path, "--action", "fitness_4").output
    assert rows(exported) == rows(edited.read_text(encoding="utf-8"))
    # without --retire-missing the missing key is only reported
    tax_before = load_taxonomy(taxonomy_path(tmp_path, "fitness_4"))
    res = run("taxonomy", "import", edited, tmp_path)
    assert "fitness_4: 0 added, 0 updated" in res.output
    assert load_taxonomy(taxonomy_path(tmp_path, "fitness_4")) == tax_before


@pytest.mark.parametrize(
    "body, where, what",
    [
        (
            "action,diff_key,name,description\nx,0,n,d\n",
            "line 1",
            "missing column(s) num_frames, query_string",
        ),
        (
            "action,diff_key,name,num_frames,description,query_string\nx,0,n,1,d,q\nx,1,n2,2,d2,q\n",
            "line 3",
            "num_frames '2'",
        ),
        (
            "action,diff_key,name,num_frames,description,query_string\nx,0,n,1,d,q\nx,0,n2,1,d2,q\n",
            "line 3",
            "duplicate diff_key 0",
        ),
        (
            "action,diff_key,name,num_frames,description,query_string\nx,a,n,1,d,q\n",
            "line 2",
            "not a non-negative",
        ),
    ],
)
def test_bad_csv_is_a_one_line_error_naming_file_and_line(tmp_path, body, where, what):
    bad = tmp_path / "bad.csv"
    bad.write_text(body)
    res = run("taxonomy", "import", bad, tmp_path / "out", ok=False)
    assert res.exit_code == 1 and "Traceback" not in res.output
    line = res.output.strip()
    assert "\n" not in line and str(bad) in line and where in line and what in line
    assert not (tmp_path / "out" / "taxonomies").exists()  # nothing half-written


@needs_public
def test_import_into_a_dataset_skips_actions_it_does_not_have(tmp_path):
    from tests.helpers.tiny_dataset import DEFAULT_ACTIONS, make_tiny_dataset

    make_tiny_dataset(tmp_path / "ds", actions=DEFAULT_ACTIONS[:1], with_taxonomy=False)
    res = run("taxonomy", "import", PUBLIC, tmp_path / "ds")
    assert (
        "fitness_0: 7 added" in res.output
        and "skipped (not actions of this dataset): ballsports_0" in res.output
    )
    assert list_actions(tmp_path / "ds") == ["fitness_0"]
    tax = load_taxonomy(taxonomy_path(tmp_path / "ds", "fitness_0"))
    assert tax["name"] == "fitness 0"  # named from dataset.json
    res = run("taxonomy", "import", PUBLIC, tmp_path / "ds", "--action", "music_0", ok=False)
    assert res.exit_code == 1 and "unknown action 'music_0'" in res.output


HEADER = ",".join(COLUMNS)


def test_na_like_and_empty_cells_stay_text(tmp_path):
    src = tmp_path / "na.csv"
    src.write_text(f"{HEADER}\nx,0,NA,1,null,\nx,1,nan,gt_1,None,NULL\n")
    import_csv(tmp_path, src)
    diffs = load_taxonomy(taxonomy_path(tmp_path, "x"))["differences"]
    assert [(d["name"], d["description"], d["query_string"]) for d in diffs.values()] == [
        ("NA", "null", ""),
        ("nan", "None", "NULL"),
    ]
    assert run("taxonomy", "export", tmp_path).output == src.read_text()  # and they export as they came


@pytest.mark.parametrize(
    "body, where",
    [
        (f"{HEADER}\n\nx,0,n,1,d,q\n\n\nx,1,n,2,d,q\n", "line 6"),  # empty lines are skipped but counted
        (f'{HEADER}\nx,0,n,1,"two\n\nlines",q\nx,0,n,1,d,q\n', "line 5"),  # a quoted cell holds newlines
        (f"{HEADER}\nx,0,n,1,d,q,ignored\n  \n", "line 3"),  # a blank-looking line is a row (csv's rule)
    ],
)
def test_error_line_is_the_physical_line(tmp_path, body, where):
    bad = tmp_path / "bad.csv"
    bad.write_text(body)
    res = run("taxonomy", "import", bad, tmp_path / "out", ok=False)
    assert res.exit_code == 1 and f"{bad}: {where}:" in res.output.strip()


def test_unterminated_quote_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(f'{HEADER}\nx,0,n,1,"never closed,q\n')
    res = run("taxonomy", "import", bad, tmp_path / "out", ok=False)
    assert res.exit_code == 1 and "Traceback" not in res.output and "\n" not in res.output.strip()
    assert str(bad) in res.output and "EOF inside string" in res.output
    assert not (tmp_path / "out" / "taxonomies").exists()

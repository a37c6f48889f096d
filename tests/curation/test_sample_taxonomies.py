"""`curate samples` writes a taxonomy per sample action, so the sample dataset can be annotated as is."""

from __future__ import annotations

from annotation.configs import label_config
from annotation.results import config_items
from annotation.taxonomy import ActionTaxonomy
from curation.samples.taxonomies import write_sample_taxonomies
from curation.samples.trees import sample_config
from curation.taxonomy.checks import check_taxonomy
from schemas.io import read_json


def test_every_sample_action_gets_a_valid_taxonomy_with_something_to_mark(tmp_path):
    config = sample_config()
    paths = write_sample_taxonomies(tmp_path, config)
    assert sorted(p.stem for p in paths) == sorted(a["key"] for a in config["actions"])
    for path in paths:
        tax = read_json(path)
        assert [i for i in check_taxonomy(tax) if i.level == "error"] == []
        stages = [s["name"] for s in tax["stages"]]
        assert stages == ["opening", "closing"]  # ordered
        assert all(kp["stage"] in stages for kp in tax["keypoints"].values())
        at = ActionTaxonomy(
            tax["action"], tax["differences"], tax["keypoints"], tax["stages"], source=str(path)
        )
        diffs, _ = config_items(label_config("differences", at))
        _, timelines = config_items(label_config("timestamps", at))
        assert diffs == sorted(tax["differences"], key=int)
        assert timelines["tl_a"] == ["stage:opening", "stage:closing", "key:first", "key:middle", "key:last"]
    # a rerun leaves identical files alone
    before = {p: p.stat().st_mtime_ns for p in paths}
    write_sample_taxonomies(tmp_path, config)
    assert {p: p.stat().st_mtime_ns for p in paths} == before


def test_curate_samples_writes_them_next_to_the_config(tmp_path):
    from curation.samples.trees import write_sample_sources

    write_sample_sources(tmp_path / "s")
    assert sorted(p.stem for p in (tmp_path / "s" / "taxonomies").glob("*.json")) == sorted(
        a["key"] for a in sample_config()["actions"]
    )

"""The source datasets a published clip can come from: licence, link, note and citation of each.

The facts live on each source's adapter class (:mod:`curation.sources.registry`); this module shapes them
for the data card.
"""

from __future__ import annotations

from dataclasses import dataclass

from curation.sources.registry import source_key, sources

__all__ = ["VIDDIFF_CITATION", "SourceInfo", "source_infos", "source_key"]

VIDDIFF_CITATION = """@inproceedings{burgess2025viddiff,
  title     = {Video Action Differencing},
  author    = {Burgess, James and Wang, Xiaohan and Zhang, Yuhui and Rau, Anita and Lozano, Alejandro and
               Dunlap, Lisa and Darrell, Trevor and Yeung-Levy, Serena},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2025}
}"""


@dataclass(frozen=True)
class SourceInfo:
    """What the card says about one source dataset: name, licence, link, a note, and its citation."""

    title: str
    licence: str
    link: str
    note: str
    citation: str


def source_infos() -> dict[str, SourceInfo]:
    """Card facts of every registered source, read from its adapter class (curation/sources/)."""
    return {
        name: SourceInfo(cls.title, cls.licence, cls.link, cls.note, cls.citation)
        for name, cls in sources().items()
    }

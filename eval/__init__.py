"""Evaluation: closed, open (LLM judge) and localization scoring, statistics and reports."""

"""The VidDiff method: LLM proposer, CLIP frame localizer, VLM differencer, and baselines."""

"""Model backends: LLM/VLM over the OpenAI API, CLIP via open_clip, and their caches."""

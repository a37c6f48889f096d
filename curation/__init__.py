"""Curation: source adapters, pairing, frame-exact media, `curate build`, taxonomies and publishing."""

"""Annotation rounds in Label Studio: label configs, server launcher, client, conversion, agreement."""

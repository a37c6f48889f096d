"""Annotation rounds in Label Studio: label configs, server launcher, push, pull and status, conversion, agreement."""

"""DCVC-RT bitstreams and sequences: file format, frame types, encode and decode of a video (see ../README.md)."""

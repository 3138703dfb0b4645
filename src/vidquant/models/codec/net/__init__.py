"""DCVC-RT networks and entropy models: everything one frame needs (see ../README.md)."""

"""Thin command-line front end; imported by nothing else in vidquant."""

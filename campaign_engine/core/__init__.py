"""Foundations every other package uses: settings, the exception tree, every enum, signed tokens."""

"""Test and benchmark helpers that ship with the package (other engineers' end-to-end tests use them)."""

"""Yiwang: simulation."""

"""Yiwang: command."""

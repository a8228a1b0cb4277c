"""Yiwang: optimizer."""

"""Mappings: turn a received message into what a destination needs."""

"""Widgets of the Session Lab app."""

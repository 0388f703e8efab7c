"""Screens of the Session Lab app."""

"""Readers for the public dataset layouts and the small datasets the project makes itself."""

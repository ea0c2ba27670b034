"""Figures computed from predictions and labels (FOV-masked vessel figures, ...)."""

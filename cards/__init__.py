"""Adaptive Card templates and the functions that render them and read their submissions."""

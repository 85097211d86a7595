"""Handwritten text recognition: data modules, models, Lightning modules and serving."""

__version__ = "0.1.0"

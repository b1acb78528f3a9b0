"""Turning raw photos into what the models read: safe loading, person and garment representations."""

"""Pathway knowledge base: versioned data files, validated at load."""

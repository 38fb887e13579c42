"""Meridian's admission policies: one catalogue from which every enforcement and report is generated."""

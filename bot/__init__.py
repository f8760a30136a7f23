"""Accord: one place where the CIO and CISO organisations run their shared work."""

"""Evaluate model: score the trained candidate and the serving champion on the test split, apply the gates."""

"""The drift monitor: live captured traffic against the serving model's training profile."""

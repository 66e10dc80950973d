"""What several test folders share: sample events, a Lambda context and a handler's moto
environment, the state-machine fragment interpreter, datasets, and scenario builders.

Fixtures stay in the folders' conftest.py files; the plain functions and classes they and the
tests use live here, so that no test imports a conftest module."""

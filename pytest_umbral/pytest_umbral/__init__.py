"""pytest-umbral: test a project's code against a database its migrations built.

The plugin (``pytest_umbral.plugin``, loaded through the ``pytest11`` entry point) adds the
fixtures; ``from pytest_umbral.migration_tests import *`` in one test module turns on the ready
migration tests. See docs/testing.md.
"""

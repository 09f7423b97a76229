"""SQLite backend for umbral. The plugin module is :mod:`umbral_sqlite.plugin`."""

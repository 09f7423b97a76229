"""PostgreSQL backend for umbral. The plugin module is :mod:`umbral_postgres.plugin`."""

"""MySQL and MariaDB backend for umbral."""

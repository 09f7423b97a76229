"""umbral-blog: posts and tags, authored by accounts users."""

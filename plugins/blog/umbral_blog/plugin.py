"""Entry point of the blog plugin (``[project.entry-points.umbral] blog``).

Its posts reference ``accounts.User``: that foreign key alone makes blog depend on accounts.
"""

from umbral import hookimpl


@hookimpl
def umbral_models() -> list[type]:
    from umbral_blog.models import Post, Tag

    return [Post, Tag]

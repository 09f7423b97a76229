"""The example project's own models: the implicit `app` plugin, migrated after the plugins."""

from umbral import Model, fields


class Comment(Model):  # table "comment"
    post = fields.ForeignKey("blog.Post", on_delete="cascade")
    author = fields.ForeignKey("accounts.User", nullable=True, on_delete="set_null")
    body = fields.Text()
    created_at = fields.Timestamptz(auto_now_add=True)

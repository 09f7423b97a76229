from umbral import Model, fields


class Tag(Model, plugin="blog"):  # table "blog_tag"
    name = fields.Text(max_length=50, unique=True)


class Post(Model, plugin="blog", unique_together=[("author", "slug")]):
    title = fields.Text(max_length=200)
    slug = fields.Text(max_length=200)
    body = fields.Text(default="", help="Markdown source")
    status = fields.Text(default="draft", choices=["draft", "published"], index=True)
    author = fields.ForeignKey("accounts.User", on_delete="cascade")
    tags = fields.ManyToMany(Tag)
    created_at = fields.Timestamptz(auto_now_add=True)

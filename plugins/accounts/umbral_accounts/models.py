from umbral import Model, fields


class User(Model, plugin="accounts"):  # table "accounts_user"
    email = fields.Text(max_length=254, unique=True)
    display_name = fields.Text(max_length=100, default="")
    is_active = fields.Boolean(default=True)
    joined_at = fields.Timestamptz(auto_now_add=True)

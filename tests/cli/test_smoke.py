from conftest import rows


def test_full_loop_on_any_backend(any_project):
    p = any_project
    p.models(
        """
        class Post(Model):
            title = fields.Text()
        """
    )
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.out_lines == ["Wrote migrations/app/0001_create_post.json"]
    r = p.run("migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 1 migration(s)"]
    assert rows(p.database, "SELECT plugin, name FROM umbral_migrations") == [
        ("app", "0001_create_post")
    ]

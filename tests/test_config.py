"""Settings: the secret key and the database URL."""

import config


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.load_secret_key(tmp_path)
    second = config.load_secret_key(tmp_path)
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert config.load_secret_key(tmp_path) == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_postgres_urls_use_psycopg2():
    assert config.normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert config.normalise_database_url("postgres://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert config.normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    assert config.default_database_url(tmp_path) == f"sqlite:///{tmp_path / 'htttbc.sqlite'}"

"""README's first step in production: `python manage.py createsuperuser` makes the first owner, asked at a
terminal or from DJANGO_SUPERUSER_* with --noinput, and that owner signs in to /staff/ and /admin/."""

from __future__ import annotations

import os
import pty
import select
import shutil
import sqlite3
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Role, User
from tests.factories import PASSWORD
from tests.support.processes import PROJECT_ROOT
from tests.support.second_factor import enrol

MANAGE = [sys.executable, str(PROJECT_ROOT / "manage.py")]


def _environment(path) -> dict[str, str]:
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{path}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory):
    """One SQLite file migrated by `manage.py migrate` in its own process (15 s), copied for each test."""
    path = tmp_path_factory.mktemp("migrated") / "db.sqlite3"
    subprocess.run([*MANAGE, "migrate", "--noinput", "-v", "0"], env=_environment(path), check=True, timeout=120)
    return path


@pytest.fixture
def fresh_database(tmp_path, migrated_database):
    """A migrated SQLite file of its own: the command runs in a separate process, as `docker compose exec` does."""
    path = tmp_path / "db.sqlite3"
    shutil.copyfile(migrated_database, path)  # the migrate process has closed it: no write-ahead log is left
    return path, _environment(path)


def the_user(path, username: str) -> tuple:
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT role, customer_id, is_superuser, is_staff, email FROM accounts_user WHERE username = ?", [username]
        ).fetchone()


def test_it_creates_the_first_owner_from_the_environment(fresh_database):
    path, env = fresh_database
    env = {
        **env,
        "DJANGO_SUPERUSER_USERNAME": "founder",
        "DJANGO_SUPERUSER_EMAIL": "founder@example.com",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    result = subprocess.run(
        [*MANAGE, "createsuperuser", "--noinput"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Superuser created successfully." in result.stdout
    assert the_user(path, "founder") == ("owner", None, 1, 1, "founder@example.com")


def _answer_prompts(fd: int, answers: dict[str, str], *, timeout: float = 60.0) -> str:
    """Read the command's terminal and type each answer when its prompt appears; returns all it printed."""
    seen, pending = "", dict(answers)
    while True:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise AssertionError(f"no prompt within {timeout}s; so far: {seen!r}")
        try:
            chunk = os.read(fd, 1024).decode(errors="replace")
        except OSError:  # the child closed its terminal
            return seen
        if not chunk:
            return seen
        seen += chunk
        for prompt in list(pending):
            if seen.rstrip().endswith(prompt):
                os.write(fd, (pending.pop(prompt) + "\n").encode())


def test_it_creates_the_first_owner_at_a_terminal(fresh_database):
    path, env = fresh_database
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command with the pseudo-terminal as its controlling terminal
        os.chdir(PROJECT_ROOT)
        os.execve(MANAGE[0], [*MANAGE, "createsuperuser"], env)
    output = _answer_prompts(
        fd,
        {
            "Username:": "founder",
            "Email address:": "founder@example.com",
            "Password:": PASSWORD,
            "Password (again):": PASSWORD,
        },
    )
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert "Superuser created successfully." in output
    assert the_user(path, "founder") == ("owner", None, 1, 1, "founder@example.com")


def test_the_created_owner_signs_in_to_the_staff_area_and_the_admin(client, db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, username="founder", email="founder@example.com", verbosity=0)
    founder = User.objects.get(username="founder")
    assert founder.role == Role.OWNER
    response = client.post(reverse("accounts:login"), {"username": "founder", "password": PASSWORD})
    assert response.status_code == 302
    enrol(client, founder)
    assert client.get(reverse("accounts:home")).url == "/staff/"
    assert client.get("/staff/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_a_superuser_is_never_a_customer(db):
    with pytest.raises(ValueError, match="owner role"):
        User.objects.create_superuser("x", "x@example.com", PASSWORD, role=Role.CUSTOMER)

"""``cityagent users add|disable|list``: staff accounts."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from service.cli._common import fail, migrated_database

users_app = typer.Typer(
    help="Staff accounts (caseworkers, policy officers, evaluators, admins).", no_args_is_help=True
)


def _user_store() -> Any:
    from tools.users import UserStore

    return UserStore(migrated_database())


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[
        list[str],
        typer.Option(help="caseworker, policy_officer, evaluator, admin or enterprise (repeatable)."),
    ],
    department: Annotated[
        list[str] | None, typer.Option(help="Limit a caseworker to these departments (repeatable).")
    ] = None,
    enterprise: Annotated[
        str | None, typer.Option(help="The 统一社会信用代码 an enterprise account speaks for.")
    ] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Read the password from this environment variable (else prompt).")
    ] = None,
) -> None:
    """Create a staff account (the password is hashed with argon2; never echoed)."""
    import os

    from tools.users import UserError

    if password_env:
        password = os.environ.get(password_env, "")
        if not password:
            raise fail(f"environment variable {password_env} is empty or unset")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    store = _user_store()
    try:
        user = store.add(username, password, role, department or [], enterprise=enterprise)
    except UserError as exc:
        raise fail(str(exc)) from exc
    typer.echo(
        f"added {user.username}: {', '.join(user.roles)}"
        + (f" ({', '.join(user.departments)})" if user.departments else "")
        + (f" (enterprise {user.enterprise})" if user.enterprise else "")
    )


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account (its sessions stop working at once)."""
    from tools.users import UserError

    try:
        _user_store().set_disabled(username)
    except UserError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"disabled {username}")


@users_app.command("list")
def users_list() -> None:
    """Every account with its roles and departments."""
    for user in _user_store().list():
        state = " (disabled)" if user.disabled else ""
        typer.echo(f"{user.username}\t{','.join(user.roles)}\t{','.join(user.departments)}{state}")

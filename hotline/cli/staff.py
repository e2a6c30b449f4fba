"""``python -m hotline staff …``: the first admin account (the console makes the others)."""

from __future__ import annotations

import argparse
import getpass
import sys

from hotline import staff
from hotline.cli.db import upgrade
from hotline.db import session_scope
from hotline.settings import current_settings, get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("staff", help="console accounts")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-admin", help="create an admin account for the console")
    create.add_argument("--username", default="admin")
    create.add_argument("--name", default="系统管理员", help="display name")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input (else prompt, or "
                             "$HOTLINE_ADMIN_PASSWORD)")
    create.set_defaults(func=cmd_create_admin)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    preset = current_settings().admin_password  # HOTLINE_ADMIN_PASSWORD
    if preset is not None and preset.get_secret_value():
        return preset.get_secret_value()
    first = getpass.getpass("密码: ")
    if first != getpass.getpass("再输入一次: "):
        raise staff.StaffError("两次输入的密码不一致。")
    return first


def cmd_create_admin(args: argparse.Namespace) -> int:
    url = get_settings().db_url()
    upgrade(url)
    try:
        password = _password(args)
        with session_scope(url) as session:
            account = staff.create_staff(session, args.username, args.name, password, "admin")
            username = account.username
    except staff.StaffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"管理员账号 {username} 已创建，请在控制台 /console/login 登录。")
    return 0

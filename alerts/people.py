"""Users and departments: who may act in the workflow, and where cases are dispatched.

Adding either writes an audit entry, so 督查 can see who was given which rights and when.
Passwords are optional (command-line users act with ``--as``); the web desk will log people in
with ``verify_password`` against the stored argon2 hash.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.config import Address
from storage import workflow as store

ROLE_LABELS = MappingProxyType({
    "admin": "管理员",
    "operator": "舆情管理员",
    "leader": "领导",
    "department": "责任部门",
    "informant": "信息员",
})
ROLES = tuple(ROLE_LABELS)
MIN_PASSWORD = 8
MAX_NAME = 64


class PeopleError(ValueError):
    """A user or department that cannot be added as given; the message says why, in Chinese first."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PeopleError(f"密码至少 {MIN_PASSWORD} 位 (password must have at least {MIN_PASSWORD} characters)")
    return PasswordHasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed stored hash is a mismatch, never an exception."""
    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _name(kind: str, value: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit or any(c in value for c in "\r\n\t"):
        raise PeopleError(f"{kind}名称应为 1–{limit} 个字符且不含换行 ({kind} name must be 1–{limit} characters)")
    return value


async def add_user(
    session: AsyncSession, *, name: str, role: str, actor: str, now: datetime, department: str | None = None,
    email: str | None = None, phone: str | None = None, password: str | None = None,
) -> store.Person:
    """A new user; a ``department`` user must belong to a department, which limits what they may touch."""
    name = _name("用户", name, MAX_NAME)
    if role not in ROLES:
        choices = "、".join(f"{r}（{label}）" for r, label in ROLE_LABELS.items())
        raise PeopleError(f"未知角色 {role!r}，可选：{choices} (unknown role)")
    if role == "department" and not department:
        raise PeopleError("责任部门用户必须指定 --department (a department user needs --department)")
    if email is not None:
        try:
            TypeAdapter(Address).validate_python(email)
        except ValidationError:
            raise PeopleError(f"不是有效的邮箱地址 not an email address: {email!r}") from None
    password_hash = hash_password(password) if password is not None else None
    async with store.write_transaction(session):
        dept = await store.find_department(session, department) if department else None
        person = await store.insert_user(session, name=name, role=role, department=dept, email=email, phone=phone,
                                         password_hash=password_hash, now=now)
        await store.append_audit(session, at=now, actor=actor, action="user_add", detail={
            "name": name, "role": role, "department": dept.name if dept else None, "email": email, "phone": phone,
            "password": password_hash is not None,
        })
    return person


async def add_department(
    session: AsyncSession, *, name: str, actor: str, now: datetime, contacts: list[str] | None = None,
    channels: list[str] | None = None,
) -> store.Department:
    """A new 责任部门; ``channels`` are alerts.yaml channel keys that reach it."""
    name = _name("部门", name, 128)
    contacts = [c.strip() for c in contacts or [] if c.strip()]
    channels = [c.strip() for c in channels or [] if c.strip()]
    async with store.write_transaction(session):
        department = await store.insert_department(session, name=name, contacts=contacts, channels=channels, now=now)
        await store.append_audit(session, at=now, actor=actor, action="department_add",
                                 detail={"name": name, "contacts": contacts, "channels": channels})
    return department

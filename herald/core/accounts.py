"""Admin users and API tokens: hashed secrets, roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from herald.core import clock
from herald.core.db import Base
from herald.core.errors import ValidationError

ROLES: tuple[str, ...] = ("admin", "marketer", "viewer")
TOKEN_PREFIX = "hrld_"
MAX_ID = 2_147_483_647  # the largest id an INTEGER column holds


class User(Base):
    """Someone who logs into the admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="marketer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # named in every session and remember-me cookie; bumped at logout and at a password change
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # Flask-Login protocol, kept here so web/ needs no wrapper class
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Flask-Login's id, carrying the session version: cookies issued before the version
        changed name an id that no longer loads (see :func:`user_for_session`)."""
        return f"{self.id}:{self.session_version}"

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def set_password(self, password: str) -> None:
        """Change the password and end every session and remember-me cookie of this user."""
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def end_sessions(self) -> None:
        """Invalidate every session and remember-me cookie issued so far."""
        self.session_version = (self.session_version or 0) + 1

    def can_write(self) -> bool:
        return self.role in ("admin", "marketer")


class ApiToken(Base):
    """A bearer token for /api/v1; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="marketer")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError(
            f"role {role!r} is not one of {', '.join(ROLES)}", {"role": "unknown role"}
        )


def create_user(session: Session, email: str, password: str, role: str) -> User:
    """Create an admin user with a hashed password."""
    _check_role(role)
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationError(f"{email!r} is not an email address", {"email": "not an email"})
    if len(password) < 8:
        raise ValidationError("password must have at least 8 characters", {"password": "too short"})
    if session.query(User).filter_by(email=email).first():
        raise ValidationError(f"a user {email} exists already", {"email": "taken"})
    user = User(email=email, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


# checked when no user has the email, so a wrong address costs as long as a wrong password
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None; the same work is done whether
    or not the email exists, so response times do not tell which addresses have accounts."""
    user = session.query(User).filter_by(email=email.strip().lower()).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def user_for_session(session: Session, session_id: str) -> User | None:
    """The active user a session or remember-me cookie names (``"id:version"``); None when the
    cookie predates a logout or password change, or is malformed."""
    user_id, _, version = session_id.partition(":")
    try:
        wanted, wanted_id = int(version), int(user_id)
    except ValueError:
        return None
    if not 0 < wanted_id <= MAX_ID:
        return None
    user = session.get(User, wanted_id)
    if user is None or not user.active or user.session_version != wanted:
        return None
    return user


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: str = "marketer") -> tuple[ApiToken, str]:
    """Create an API token; the plain token is returned once and never stored."""
    _check_role(role)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=hash_token(plain), role=role)
    session.add(token)
    session.flush()
    return token, plain


def find_token(session: Session, plain: str) -> ApiToken | None:
    """Look a bearer token up by its hash; revoked tokens are not found."""
    digest = hash_token(plain)
    token = session.query(ApiToken).filter_by(token_hash=digest, revoked=False).first()
    if token is not None and hmac.compare_digest(token.token_hash, digest):
        return token
    return None

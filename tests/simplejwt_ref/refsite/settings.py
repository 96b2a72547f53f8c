"""A stock Django REST Framework + SimpleJWT 5.5.1 app, configured the way the seeds advise
(rotating refresh tokens, blacklist after rotation), used only as the reference that Tessera's
`/api/token/...` endpoints are compared with.

Environment:
  REF_DB            path of the SQLite file
  REF_DATABASE_URL  postgres://user@host:port/name: the database is on PostgreSQL instead
  REF_MODE          "mirror" (default): SimpleJWT signs with REF_SIGNING_KEY (an RSA PEM file);
                    REF_ROTATE=0 turns ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION off
                    (SimpleJWT's defaults)
                    "jwk": SimpleJWT only verifies, with keys from REF_JWK_URL (Tessera's JWKS),
                    checking REF_ISSUER and REF_AUDIENCE (unset: SimpleJWT's None, no check);
                    users come from the token (stateless)
  REF_USER_ID_CLAIM, REF_USER_ID_FIELD, REF_AUTH_HEADER_TYPES (comma-separated): those
                    SIMPLE_JWT settings, in either mode, when set
"""
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

SECRET_KEY = "reference-app-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "refsite",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "refsite.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("REF_DB", str(Path(__file__).resolve().parent.parent / "ref.db")),
    }
}
if os.environ.get("REF_DATABASE_URL"):
    _url = urlsplit(os.environ["REF_DATABASE_URL"])
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "",
        "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
    }
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {"version": 1, "disable_existing_loggers": False}

MODE = os.environ.get("REF_MODE", "mirror")

if MODE == "jwk":
    SIMPLE_JWT = {
        "ALGORITHM": "RS256",
        "JWK_URL": os.environ["REF_JWK_URL"],
        "ISSUER": os.environ.get("REF_ISSUER"),
        "AUDIENCE": os.environ.get("REF_AUDIENCE"),
    }
    AUTH_CLASS = "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"
else:
    _key = Path(os.environ["REF_SIGNING_KEY"]).read_text()
    from cryptography.hazmat.primitives import serialization

    _public = (
        serialization.load_pem_private_key(_key.encode(), password=None)
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    SIMPLE_JWT = {
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
        "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
        "ROTATE_REFRESH_TOKENS": os.environ.get("REF_ROTATE", "1") == "1",
        "BLACKLIST_AFTER_ROTATION": os.environ.get("REF_ROTATE", "1") == "1",
        "ALGORITHM": "RS256",
        "SIGNING_KEY": _key,
        "VERIFYING_KEY": _public,
    }
    AUTH_CLASS = "rest_framework_simplejwt.authentication.JWTAuthentication"

for _setting in ("USER_ID_CLAIM", "USER_ID_FIELD"):
    if os.environ.get(f"REF_{_setting}"):
        SIMPLE_JWT[_setting] = os.environ[f"REF_{_setting}"]
if os.environ.get("REF_AUTH_HEADER_TYPES"):
    SIMPLE_JWT["AUTH_HEADER_TYPES"] = tuple(os.environ["REF_AUTH_HEADER_TYPES"].split(","))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [AUTH_CLASS],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

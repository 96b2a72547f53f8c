"""The reference app as an app moving its users to Tessera (run with REF_MODE=jwk): users
made by Django's own hashers, every one Tessera verifies, and views behind the stock
JWTAuthentication, which looks each token's user up in this app's database, trusting
Tessera's JWKS (REF_JWK_URL, REF_ISSUER, REF_AUDIENCE)."""
from .settings import *  # noqa: F401,F403 -- the same app, other settings below

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

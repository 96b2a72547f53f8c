"""`manage.py seed_users name:password[:flag...] ...`: the test users, made by Django itself.
Flags: `inactive`, `superuser`, `unusable` (set_unusable_password), `hasher=<algorithm>`
(the password hashed with that one of PASSWORD_HASHERS instead of the default)."""
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("users", nargs="+")

    def handle(self, *args, **options):
        User = get_user_model()
        for spec in options["users"]:
            name, password, *flags = spec.split(":")
            user = User.objects.create_user(
                username=name, password=password, email=f"{name}@example.com"
            )
            for flag in flags:
                if flag == "inactive":
                    user.is_active = False
                elif flag == "superuser":
                    user.is_superuser = user.is_staff = True
                elif flag == "unusable":
                    user.set_unusable_password()
                elif flag.startswith("hasher="):
                    user.password = make_password(password, hasher=flag.split("=", 1)[1])
                else:
                    raise ValueError(f"unknown flag {flag}")
            user.save()
            self.stdout.write(f"{name} {user.id}")

"""`manage.py seed_users name:password[:inactive] ...`: the test users, as Tessera gets them."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("users", nargs="+")

    def handle(self, *args, **options):
        User = get_user_model()
        for spec in options["users"]:
            name, password, *flags = spec.split(":")
            user = User.objects.create_user(username=name, password=password)
            if "inactive" in flags:
                user.is_active = False
                user.save()
            self.stdout.write(f"{name} {user.id}")

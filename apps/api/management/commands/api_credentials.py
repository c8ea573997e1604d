from django.core.management.base import BaseCommand

from apps.api.services import api_credentials_get, api_credentials_regenerate


class Command(BaseCommand):
    help = "Print the Kit v3 API key and secret (created on first use)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--regenerate",
            action="store_true",
            help="replace both; integrations using the old ones stop working",
        )

    def handle(self, *args, regenerate=False, **options):
        credential = api_credentials_regenerate() if regenerate else api_credentials_get()
        self.stdout.write(f"api_key:    {credential.api_key}")
        self.stdout.write(f"api_secret: {credential.api_secret}")

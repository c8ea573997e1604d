from django.core.management.base import BaseCommand

from apps.api.services import api_credentials_get, api_credentials_regenerate, api_key_for_cli


class Command(BaseCommand):
    help = "Print the Kit v3 API key and secret and one Kit v4 key (created on first use)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--regenerate",
            action="store_true",
            help="replace all three; integrations using the old ones stop working",
        )

    def handle(self, *args, regenerate=False, **options):
        credential = api_credentials_regenerate() if regenerate else api_credentials_get()
        self.stdout.write(f"api_key:    {credential.api_key}")
        self.stdout.write(f"api_secret: {credential.api_secret}")
        self.stdout.write(f"api_key_v4: {api_key_for_cli(regenerate=regenerate)}")

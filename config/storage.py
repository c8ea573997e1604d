"""Where uploaded files live, for config/settings.py (STORAGES["default"]).

Lesson attachments and offering images go through Django's storage API. Local files by
default, under FILES_ROOT and never under a public URL: the app serves each download after
checking access. S3-compatible storage when S3_BUCKET is set (django-storages): private
objects, and downloads redirect to a signed URL that expires after S3_URL_EXPIRE_SECONDS.
"""

from pathlib import Path

import environ


def files_storage(env: environ.Env, *, files_root: Path) -> dict:
    bucket = env.str("S3_BUCKET", default="")
    if not bucket:
        # base_url points nowhere that is served: a stray file.url must not become a public path.
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(files_root), "base_url": "/files-are-served-by-the-app/"},
        }
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("S3_URL_EXPIRE_SECONDS", default=300),
            "file_overwrite": False,
        },
    }

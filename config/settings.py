"""Settings, read from the environment (django-environ).

Every setting has a default that makes the demo work on a bare machine: SQLite under ``var/``
and Celery's filesystem broker, also under ``var/``. ``DATABASE_URL`` and ``REDIS_URL`` switch
to PostgreSQL and Redis. The README lists each variable.
"""

import ipaddress
import os
from pathlib import Path

import environ
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.utils.functional import lazy

from . import api
from .headers import content_security_policy
from .logs import logging_config
from .storage import files_storage

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("TESSERA_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-demo-key-only-for-debug-mode")
else:
    # No default outside DEBUG: a production site with a guessable key signs forgeable links.
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "Set SECRET_KEY to a long random string (or DEBUG=1 for a local demo)."
        )

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    # Django's admin with Tessera's site (apps/staff/site.py): branding, order, login lock.
    "apps.staff.apps.TesseraAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "anymail",
    "oauth2_provider",
    "django_prose_editor",
    "csp",
    "apps.core",
    "apps.crm",
    "apps.tags",
    "apps.automations",
    "apps.offerings",
    "apps.members",
    "apps.learning",
    "apps.commerce",
    "apps.api",
    "apps.staff",
]

MIDDLEWARE = [
    # First: /healthz answers before the Host check and the HTTPS redirect (a load balancer
    # or a compose healthcheck calls it by address, over plain HTTP).
    "apps.core.health.HealthzMiddleware",
    "apps.core.logs.RequestIdMiddleware",
    "apps.core.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite: a file under var/ in WAL mode, with IMMEDIATE transactions and a generous busy
# timeout, so the demo's web, worker and beat processes write side by side without
# "database is locked" (a deferred transaction that later upgrades to a write lock cannot wait
# for it; an immediate one takes the lock up front and waits on the busy timeout).
SQLITE_PATH = VAR_DIR / "tessera.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A transaction left idle this long (its process stalled: paused, swapped out, a hung VM) is
# ended by PostgreSQL, so the rows it locked can be handed on like any other stalled lease;
# the process, if it wakes, finds its connection gone and its lease taken, and writes nothing.
DB_IDLE_IN_TRANSACTION_SECONDS = env.int("DB_IDLE_IN_TRANSACTION_SECONDS", default=300)
if "postgresql" in DATABASES["default"]["ENGINE"] and DB_IDLE_IN_TRANSACTION_SECONDS:
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options["options"] = (
        f"{_db_options.get('options', '')} "
        f"-c idle_in_transaction_session_timeout={DB_IDLE_IN_TRANSACTION_SECONDS * 1000}"
    ).strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Password hashers (issue 16): Django's defaults first, so every password a person chooses is
# stretched and every older hash is upgraded to the first; then a fast salted hash that only
# site-generated random passwords (>= 128 bits) use, upgraded to the default at first login.
PASSWORD_HASHERS = [
    *global_settings.PASSWORD_HASHERS,
    "apps.members.hashers.GeneratedPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},  # see "Files" below
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tessera <no-reply@localhost>")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- HTML email and deliverability (issue 17) ---------------------------------------------
# The sender's name and postal address in every layout's footer (CAN-SPAM and Kit ask for an
# address). Broadcasts may send from their own address only on these domains (empty: the
# domain of DEFAULT_FROM_EMAIL).
EMAIL_SENDER_NAME = env.str("EMAIL_SENDER_NAME", default="Tessera")
EMAIL_SENDER_ADDRESS = env.str("EMAIL_SENDER_ADDRESS", default="")
EMAIL_SENDING_DOMAINS = env.list("EMAIL_SENDING_DOMAINS", default=[])
# Sending providers through django-anymail: EMAIL_BACKEND names one (README table) and every
# environment variable ANYMAIL_<NAME> becomes anymail's <NAME> setting (ANYMAIL_POSTMARK_
# SERVER_TOKEN, ANYMAIL_MAILGUN_API_KEY...). ANYMAIL_WEBHOOK_SECRET ("user:pass") guards the
# tracking webhooks at /anymail/<esp>/tracking/; without it they refuse every call.
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_") and value
}

# Celery. REDIS_URL (or CELERY_BROKER_URL) selects a real broker; without one, kombu's
# filesystem transport keeps messages as files under var/ so the demo needs no server.
# The broker is only a doorbell: every task re-reads its state from the database, and the
# periodic sweeps pick up whatever a lost message would have done (DESIGN.md).
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost//")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("out", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # The filesystem transport has no fanout exchange, so remote control cannot work on it.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task unless this is set,
# so each short doorbell task paid a new PostgreSQL connection (the launch bench's workers
# spent more time connecting than working). Reuse it; config/celery.py applies CONN_MAX_AGE
# and the health check between tasks as Django does between requests.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# A doorbell's task starts this long after its first ring, so work that arrives meanwhile
# joins its batch (apps/core/doorbell.py); 0 starts it at once.
DOORBELL_DELAY_SECONDS = env.float("DOORBELL_DELAY_SECONDS", default=0.5)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# A kick that cannot reach the broker must not hang a web request; the sweep covers it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Time limits on every task (issue 14): past the soft limit the task gets an exception it can
# clean up after, past the hard one its worker process is replaced. Both stay under the
# 5-minute leases, so stuck work is handed on rather than held. Tasks that run longer by
# design (a CSV import) set their own, larger limits.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT must be larger than CELERY_TASK_SOFT_TIME_LIMIT (the soft limit "
        "gives a task time to stop cleanly before the hard one)."
    )
CELERY_BEAT_SCHEDULER = "config.beat:Scheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Logs and error reports (issue 14) -------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line with its request or task id (config/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(fmt=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
# Celery keeps Django's logging (the format above) instead of installing its own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Sentry, when SENTRY_DSN is set: errors of web requests and Celery tasks, with no personal
# data (no addresses, cookies or bodies) and no performance tracing unless asked for.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# Tessera's own knobs.
EVENT_DISPATCH_BATCH_SIZE = env.int("EVENT_DISPATCH_BATCH_SIZE", default=500)
EVENT_SWEEP_SECONDS = env.int("EVENT_SWEEP_SECONDS", default=5)
DELIVERY_SWEEP_SECONDS = env.int("DELIVERY_SWEEP_SECONDS", default=10)
RUN_SWEEP_SECONDS = env.int("RUN_SWEEP_SECONDS", default=2)
# How long a claim of queued work lasts unless its worker renews it (its heartbeat does,
# every third of the lease): runs, hook deliveries, emails, imports. Tests shorten them.
RUN_LEASE_SECONDS = env.int("RUN_LEASE_SECONDS", default=300)
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=300)
EMAIL_LEASE_SECONDS = env.int("EMAIL_LEASE_SECONDS", default=300)
IMPORT_LEASE_SECONDS = env.int("IMPORT_LEASE_SECONDS", default=300)
# Queued imports and bulk jobs are handed to workers at once; this sweep is the backstop.
IMPORT_SWEEP_SECONDS = env.int("IMPORT_SWEEP_SECONDS", default=10)
DRIP_SWEEP_SECONDS = env.int("DRIP_SWEEP_SECONDS", default=5)
INBOUND_WEBHOOK_MAX_BYTES = env.int("INBOUND_WEBHOOK_MAX_BYTES", default=64 * 1024)
INBOUND_WEBHOOK_RATE_PER_MINUTE = env.int("INBOUND_WEBHOOK_RATE_PER_MINUTE", default=3000)

# --- Selling (apps/commerce): Stripe Checkout, Stripe's webhook, the customer portal ---------
# Without both keys the order forms are hidden and the admin says what to set. The webhook
# secret is the signing secret of the endpoint pointing at <SITE_URL>/stripe/webhook/.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Stripe's own default: a signature older than this is refused (a replayed capture).
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# The order form and My orders post to us and are redirected to Stripe's hosted pages: the
# Content-Security-Policy's form-action on those two pages lets exactly these origins through.
STRIPE_REDIRECT_ORIGINS = env.list(
    "STRIPE_REDIRECT_ORIGINS",
    default=["https://checkout.stripe.com", "https://billing.stripe.com"],
)
LOGIN_URL = "members:login"
LOGIN_REDIRECT_URL = "members:dashboard"
# Outbound webhooks may target private addresses (a CRM on the same network). Off: only this
# site's own URL and public addresses are reached.
OUTBOUND_ALLOW_PRIVATE = env.bool("OUTBOUND_ALLOW_PRIVATE", default=False)

# Local delivery (issue 16): a hook or webhook step whose target is one of this site's own
# Webhook Generator URLs is handled in process (same checks, call log and events, no HTTP
# request). Off: every target, ours included, is posted over HTTP like any other.
WEBHOOKS_LOCAL_DELIVERY = env.bool("WEBHOOKS_LOCAL_DELIVERY", default=True)

# Trusted proxies (issue 14): the addresses or CIDRs of the proxies in front of the site
# (comma-separated, e.g. "10.0.0.0/8,127.0.0.1"). Only a request whose socket peer is one of
# them has its X-Forwarded-For read (apps/core/client_address.py); empty: the socket address is
# the client, and any X-Forwarded-For is ignored.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an address or CIDR (e.g. 10.0.0.0/8)."
        ) from None

# --- Headers and HTTPS (issue 14) -----------------------------------------------------------
# Behind TLS (SITE_URL https): cookies only over HTTPS, plain HTTP redirected, and HSTS once
# SECURE_HSTS_SECONDS says so (it is sticky in browsers, so it is never on by default). A
# proxy in front says the request was HTTPS by header (BEHIND_TLS_PROXY). README's
# "Production environment" sets all of them; `check --deploy` then prints nothing.
HTTPS = SITE_URL.startswith("https://")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (django-csp, config/headers.py): after the lesson hosts, below.
EMAIL_SWEEP_SECONDS = env.int("EMAIL_SWEEP_SECONDS", default=10)

# --- Worker heartbeats and the lease reaper (issue 14, apps/core/leases.py) ------------------
# Every worker process writes a heartbeat every WORKER_HEARTBEAT_SECONDS; one silent for
# WORKER_DEAD_AFTER_SECONDS is dead, and the reaper (every LEASE_REAP_SECONDS) hands on the
# runs, emails and deliveries it held, instead of waiting out their lease.
WORKER_HEARTBEATS = True
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=2)
WORKER_DEAD_AFTER_SECONDS = env.int("WORKER_DEAD_AFTER_SECONDS", default=10)
LEASE_REAP_SECONDS = env.int("LEASE_REAP_SECONDS", default=5)
# How often beat runs inbound webhook calls whose ring was lost (a flushed broker).
CALL_SWEEP_SECONDS = env.int("CALL_SWEEP_SECONDS", default=10)
# Beat silent this long is reported down by /healthz?deep=1.
BEAT_STALE_AFTER_SECONDS = env.int("BEAT_STALE_AFTER_SECONDS", default=30)

# Caches: Redis when REDIS_URL is set, else files under var/cache/. Either way every process
# shares it: the doorbells' "a ring is queued" flags are set by the web process and cleared
# by the worker, and the throttles count across every web process. A per-process memory
# cache silenced the demo's doorbells (apps/core/cache.py).
CACHES = {
    "default": {"BACKEND": "apps.core.cache.ReusingRedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {
        "BACKEND": "apps.core.cache.SharedFileCache",
        "LOCATION": str(VAR_DIR / "cache"),
        # Culling drops a third of the keys at random past this: throttle counters and
        # doorbell flags are few, so it should never happen.
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}
# Kit's limit: 120 requests per rolling 60 seconds per API key.
KIT_API_RATE_LIMIT = env.int("KIT_API_RATE_LIMIT", default=120)
KIT_API_RATE_WINDOW_SECONDS = 60
# Requests per rolling minute from one address, successful or not (key guessing).
KIT_API_ADDRESS_RATE_LIMIT = env.int("KIT_API_ADDRESS_RATE_LIMIT", default=600)
ACCOUNT_NAME = env.str("ACCOUNT_NAME", default="Tessera")
# Kit v4 (/v4/): an OAuth access token's budget, per token, per rolling minute (Kit's figure);
# a v4 API key shares KIT_API_RATE_LIMIT above.
KIT_API_OAUTH_RATE_LIMIT = env.int("KIT_API_OAUTH_RATE_LIMIT", default=600)
# The API (config/api.py): DRF, the OpenAPI schema, OAuth 2 for v4 apps (/oauth/).
REST_FRAMEWORK = api.REST_FRAMEWORK
SPECTACULAR_SETTINGS = api.SPECTACULAR_SETTINGS
OAUTH2_PROVIDER = api.oauth2_provider(env)

# Course player (issue 18) -----------------------------------------------------------------
# Files (lesson attachments, offering images): private local files under FILES_ROOT, or an
# S3-compatible bucket when S3_BUCKET is set (config/storage.py).
FILES_ROOT = Path(env.str("FILES_ROOT", default=str(VAR_DIR / "files")))
S3_BUCKET = env.str("S3_BUCKET", default="")
STORAGES["default"] = files_storage(env, files_root=FILES_ROOT)
FILE_UPLOAD_MAX_BYTES = env.int("FILE_UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)
# Hosts a lesson's <iframe> may come from (exact host names). Anything else is removed when
# the lesson is saved, and the admin says so.
LESSON_IFRAME_HOSTS = env.list(
    "LESSON_IFRAME_HOSTS",
    default=[
        "www.youtube.com",
        "youtube.com",
        "www.youtube-nocookie.com",
        "player.vimeo.com",
        "fast.wistia.net",
        "fast.wistia.com",
        "www.loom.com",
        "loom.com",
        "iframe.mediadelivery.net",
        "player.mediadelivery.net",
    ],
)
# Hosts a lesson's <video>/<audio> may load from besides this site's own paths.
LESSON_MEDIA_HOSTS = env.list("LESSON_MEDIA_HOSTS", default=[])
CONTENT_SECURITY_POLICY = content_security_policy(
    iframe_hosts=LESSON_IFRAME_HOSTS, media_hosts=LESSON_MEDIA_HOSTS
)
DJANGO_PROSE_EDITOR_EXTENSIONS = [
    {
        # Resolved late: the static storage's hashed name exists only once apps are loaded.
        "js": [lazy(static, str)("offerings/embed.js")],
        "extensions": {"Embed": "apps.offerings.content.embed_allowlist"},
    }
]
# Member pages in the visitor's language (LocaleMiddleware: the language cookie set from My
# account, else the browser's); dates in the site's time zone, labelled.
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The lesson body is cleaned by apps/offerings/content.py (with a report of what it removed),
# not by the editor field's own sanitizer, which would remove silently.
SILENCED_SYSTEM_CHECKS = ["django_prose_editor.W004"]

"""The API's settings for config/settings.py: Django REST framework, the OpenAPI schema
(drf-spectacular) and OAuth 2 for Kit v4 apps (django-oauth-toolkit)."""

import environ

REST_FRAMEWORK = {
    # /v3/ reads Kit's credentials itself; /api/v1/ sets token authentication per view.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Issue 14: JSON bodies are bounded (nesting depth, NUL characters) before parsing.
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.jsonlimits.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tessera API",
    "DESCRIPTION": (
        "/v3/: Kit's v3 API (api_key / api_secret in the query, a JSON or a form body). "
        "/v4/: Kit's v4 API (a v4 key in the X-Kit-Api-Key header, or an OAuth 2 bearer "
        'token from /oauth/; cursor pages; errors as {"errors": [...]}). '
        "/api/v1/: what Kit has no word for (offerings, members, access, automations, runs, "
        "webhook endpoints, the outbox, events), with a staff token: "
        "`Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # /v4/'s two ways in (apps/api/v4/base.py names them on each operation).
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "KitApiKey": {"type": "apiKey", "in": "header", "name": "X-Kit-Api-Key"},
            "OAuth2": {
                "type": "oauth2",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": "/oauth/authorize/",
                        "tokenUrl": "/oauth/token/",
                        "refreshUrl": "/oauth/token/",
                        "scopes": {"read": "GET calls", "write": "every other call"},
                    }
                },
            },
        }
    },
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "apps.automations.models.RunStatus",
        "AutomationStatusEnum": "apps.automations.models.AutomationStatus",
        "EmailStatusEnum": "apps.crm.models.EmailStatus",
        "EndpointStatusEnum": "apps.members.models.EndpointStatus",
    },
}


def oauth2_provider(env: environ.Env) -> dict:
    """OAuth 2 for v4 apps (/oauth/): authorization code with PKCE only, refresh tokens that
    rotate, tokens revocable; scopes read (GET) and write (the rest)."""
    return {
        "SCOPES": {"read": "Read your subscribers, tags, forms and more", "write": "Change them"},
        "DEFAULT_SCOPES": ["read", "write"],
        "PKCE_REQUIRED": True,
        # Redirect URIs over https only (RFC 9700): a self-hosted app needs a TLS callback.
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
        # RFC 9700 throughout: no implicit or password grant, S256 only, tokens not in the
        # query, tokens stored hashed, a replayed refresh token revokes its whole family, iss
        # returned.
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
        "REFRESH_TOKEN_REUSE_PROTECTION": True,
        "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_SECONDS", default=2 * 24 * 3600),
        "REFRESH_TOKEN_EXPIRE_SECONDS": env.int(
            "OAUTH_REFRESH_TOKEN_SECONDS", default=90 * 24 * 3600
        ),
        "ROTATE_REFRESH_TOKEN": True,
    }

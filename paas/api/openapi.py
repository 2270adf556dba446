"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json."""

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string",
        "pattern": "^[a-z][a-z0-9-]{0,29}$"}, "description": "app name"}


def _ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _op(summary: str, ok: dict | None = None, body: dict | None = None,
        params: list | None = None, status: str = "200", text: bool = False) -> dict[str, Any]:
    content = ({"text/plain": {"schema": {"type": "string"}}} if text
               else {"application/json": {"schema": ok or {"type": "object"}}})
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": params or [],
        "responses": {
            status: {"description": "success", "content": content},
            "400": {"description": "invalid request (user error)", "content": _json(ERROR)},
            "401": {"description": "missing or bad token", "content": _json(ERROR)},
            "404": {"description": "no such app, or not yours to see", "content": _json(ERROR)},
            "503": {"description": "platform error (Docker, Redis)", "content": _json(ERROR)},
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    return operation


# The terminal an interactive session asks for (rows, cols: 1 to 10000; TERM a plain name).
TERMINAL_FIELDS: dict[str, Any] = {"rows": {"type": "integer"}, "cols": {"type": "integer"},
                                   "term": {"type": "string"}}
TERMINAL_BODY = {"type": "object", "properties": TERMINAL_FIELDS}
RUN_BODY = {"type": "object", "required": ["command"], "properties": {
    "command": {"type": "string"}, "detach": {"type": "boolean"}, **TERMINAL_FIELDS}}

PREFER = {"name": "Prefer", "in": "header", "required": False,
          "schema": {"type": "string", "enum": ["respond-async"]},
          "description": "respond-async: answer 202 with the queued Action at once instead "
                         "of waiting for the deploy (RFC 7240)"}


def _deploy_op(summary: str, ok: dict | None = None, body: dict | None = None,
               params: list | None = None, status: str = "200") -> dict[str, Any]:
    """A change that deploys: a worker runs it as an Action, synchronous unless asked."""
    operation = _op(summary + ". A worker deploys the change; the request waits for the "
                    "outcome unless sent with 'Prefer: respond-async'", ok, body,
                    [*(params or []), PREFER], status)
    operation["responses"]["202"] = {
        "description": "queued (Prefer: respond-async): follow the Action's log_url, then "
                       "read its url for the outcome",
        "headers": {"Location": {"schema": {"type": "string"},
                                 "description": "the Action's status URL"}},
        "content": _json(_ref("Action"))}
    return operation


def _json(schema: dict) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _path(name: str, description: str, pattern: str = "^.+$") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "pattern": pattern}}


ACTION_ID = {"name": "action_id", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
BUILD_ID = {"name": "build_id", "in": "path", "required": True, "schema": {"type": "integer"}}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
STRINGS = {"type": "array", "items": {"type": "string"}}


SERVICE = {"name": "name", "in": "path", "required": True, "description": "service name",
           "schema": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,29}$"}}
KIND = {"name": "kind", "in": "query", "required": False, "description": (
    "only services of this kind (a service of another kind is not found)"),
    "schema": {"enum": ["postgres", "redis"]}}
SERVICE_SCHEMA = {"type": "object", "description": (
    "A backing service: one container, its data on a named volume, reachable only from the "
    "apps linked to it, as host <name>.<kind>"), "properties": {
    "name": {"type": "string"}, "kind": {"enum": ["postgres", "redis"]},
    "owner": {"type": "string"},
    "status": {"enum": ["creating", "running", "restarting", "stopped", "failed"],
               "description": "what the last reconcile saw"},
    "status_message": {"type": ["string", "null"]},
    "container": {"type": "string", "description": "the container's state now (running, "
                                                   "restarting, exited, missing, unknown)"},
    "host": {"type": "string"}, "url_var": {"enum": ["DATABASE_URL", "REDIS_URL"]},
    "url": {"type": "string", "description": "what linked apps find in url_var, with the "
                                             "generated password"},
    "volume": {"type": "string"}, "image": {"type": "string"}, "links": STRINGS,
    "created_at": {"type": "string", "format": "date-time"}}}
BACKUP_ID = {"name": "backup_id", "in": "path", "required": True, "schema": {
    "type": "string", "pattern": "^[a-z][a-z0-9-]{0,29}-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$"}}
BACKUP_SCHEMA = {"type": "object", "description": (
    "A backup of a service: a file under PAAS_HOME/backups/services/<service>/"), "properties": {
    "id": {"type": "string"}, "service": {"type": "string"},
    "kind": {"enum": ["postgres", "redis"]}, "owner": {"type": "string"},
    "created": {"type": "string", "format": "date-time"}, "size": {"type": "integer"},
    "sha256": {"type": "string"}, "filename": {"type": "string"}}}
SERVICE_PATHS: dict[str, Any] = {
    "/services": {
        "get": _op("Your backing services (superusers: all)",
                   {"type": "array", "items": _ref("Service")}, params=[KIND]),
        "post": _op("Create and start a backing service; the first of a kind builds its "
                    "image from the stack image (minutes)", _ref("Service"), status="201",
                    body={"type": "object", "required": ["kind", "name"], "properties": {
                        "kind": {"enum": ["postgres", "redis"]},
                        "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,29}$"}}}),
    },
    "/services/{name}": {
        "get": _op("A backing service, with its URL and linked apps", _ref("Service"),
                   params=[SERVICE, KIND]),
        "delete": _op("Destroy a backing service: its container, network and volume (the data "
                      "is deleted). Refused (409 service_linked) while apps are linked, "
                      "unless force=true, which unlinks them first (a new release each)",
                      params=[SERVICE, KIND, {"name": "force", "in": "query",
                                              "required": False,
                                              "schema": {"enum": ["true", "false"]}}]),
    },
    "/services/{name}/restart": {
        "post": _op("Restart the service's container (its data stays)", _ref("Service"),
                    params=[SERVICE, KIND]),
    },
    "/services/{name}/connect": {
        "post": _op("psql / redis-cli in the service's container on a terminal: sent with "
                    "'Connection: Upgrade' and 'Upgrade: paas-tty', answered 101, then the "
                    "frames of paas/ttyframes.py both ways", params=[SERVICE, KIND],
                    status="101", body=TERMINAL_BODY),
    },
    "/services/{name}/links": {
        "post": _op("Link an app you can see: a new release with DATABASE_URL / REDIS_URL set, "
                    "whose containers join the service's network (the app restarts)",
                    _ref("Service"), params=[SERVICE, KIND], status="201",
                    body={"type": "object", "required": ["app"],
                          "properties": {"app": {"type": "string"}}}),
    },
    "/services/{name}/links/{app}": {
        "delete": _op("Unlink an app: a new release without the variable, off the network",
                      _ref("Service"), params=[SERVICE, _path("app", "the linked app"), KIND]),
    },
    "/services/{name}/backups": {
        "get": _op("The service's backups you may see, newest first; also after the service "
                   "is destroyed (destroying keeps them)",
                   {"type": "array", "items": _ref("Backup")}, params=[SERVICE, KIND]),
        "post": _op("Back the service up now (pg_dump -Fc; Redis: an RDB snapshot after a "
                    "BGSAVE), into a file under PAAS_HOME", _ref("Backup"), status="201",
                    params=[SERVICE, KIND]),
    },
    "/services/{name}/backups/{backup_id}": {
        "get": {**_op("Download the backup's file (checked against its sha256 first, which "
                      "the X-Backup-Sha256 header repeats)", params=[SERVICE, BACKUP_ID, KIND]),
                "responses": {"200": {"description": "the file", "content": {
                    "application/octet-stream": {"schema": {"type": "string",
                                                            "format": "binary"}}}}}},
        "delete": _op("Delete the backup", params=[SERVICE, BACKUP_ID, KIND]),
    },
    "/services/{name}/restore": {
        "post": _op("Replace the service's data with a backup of any service of its kind you "
                    "may see (PostgreSQL: pg_restore --clean in one transaction; Redis: "
                    "restarted with the snapshot). Refused: backup_wrong_kind, "
                    "backup_not_found, backup_corrupt, backup_unusable; a failed restore "
                    "leaves the data as it was and the service running", status="201",
                    params=[SERVICE, KIND], body={"type": "object", "required": ["backup"],
                                                  "properties": {"backup": {"type": "string"}}}),
    },
}

_TIME = {"type": "string", "format": "date-time"}
CERTIFICATE_SCHEMA = {"type": "object", "description": (
    "A certificate the router serves: names from its subjectAltName, which of the app's "
    "hostnames it covers (HTTPS, plain HTTP redirected) and which not (plain HTTP only)"),
    "properties": {
        "app": {"type": ["string", "null"], "description": "null: the control plane's"},
        "source": {"enum": ["manual", "acme"]}, "names": STRINGS, "issuer": {"type": "string"},
        "not_before": _TIME, "not_after": _TIME,
        "fingerprint": {"type": "string", "description": "SHA-256 of the leaf, hex pairs"},
        "hsts": {"type": "boolean"}, "covered": STRINGS, "uncovered": STRINGS,
        "created_at": _TIME, "updated_at": _TIME}}
_CERTIFICATES = {"type": "array", "items": _ref("Certificate"), "maxItems": 1}
_PEMS = {"type": "object", "required": ["certificate", "key"], "properties": {
    "certificate": {"type": "string", "description": "PEM: the leaf, then intermediates"},
    "key": {"type": "string", "description": "PEM, unencrypted: RSA 2048+ or ECDSA"}}}
_AUTO = {"allOf": [_ref("Certificate"), {"type": "object", "properties": {"log": STRINGS}}]}
CERT_PATHS: dict[str, Any] = {
    "/apps/{name}/certs": {
        "get": _op("The app's certificate (none or one)", _CERTIFICATES, params=[NAME]),
        "post": _op("Serve the app over HTTPS with this certificate (replaces its own); "
                    "400 with certificate_expired, key_mismatch, chain_out_of_order, "
                    "certificate_names_mismatch, ...", _ref("Certificate"), params=[NAME],
                    status="201", body=_PEMS),
        "delete": _op("Remove the certificate: plain HTTP only", params=[NAME]),
    },
    "/apps/{name}/certs/hsts": {
        "post": _op("Send Strict-Transport-Security on HTTPS answers, or stop",
                    _ref("Certificate"), params=[NAME], status="201",
                    body={"type": "object", "required": ["enabled"],
                          "properties": {"enabled": {"type": "boolean"}}}),
    },
    "/apps/{name}/certs/auto": {
        "post": _op("Get the app a certificate for all its hostnames by ACME (HTTP-01 through "
                    "the router, from PAAS_ACME_DIRECTORY), serve it and keep it renewed; "
                    "'log' says what the exchange did. 400 acme_challenge_failed, "
                    "acme_rejected, acme_rate_limited; 502 acme_unreachable, ...",
                    _AUTO, params=[NAME], status="201"),
    },
    "/platform/certs": {
        "get": _op("The control plane's certificate at PAAS_CONTROL_DOMAIN (superusers)",
                   _CERTIFICATES),
        "post": _op("Serve the control plane over HTTPS with this certificate (superusers)",
                    _ref("Certificate"), status="201", body=_PEMS),
        "delete": _op("Remove the control plane's certificate (superusers)"),
    },
    "/platform/certs/auto": {
        "post": _op("The control plane's certificate by ACME (superusers)", _AUTO,
                    status="201"),
    },
}


TOKEN_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,29}$"}
EXPIRY = {"type": ["integer", "null"], "minimum": 1, "maximum": 3650,
          "description": "days until the token expires; null or absent: never"}
AS_USER = {"name": "user", "in": "query", "required": False, "schema": {"type": "string"},
           "description": "superusers only: another user's tokens"}
ACCOUNT_PATHS: dict[str, Any] = {
    "/login": {"post": {
        **_op("Exchange a username and password for a new named token (no bearer token "
              "needed). Throttled: 429 with Retry-After after too many failures",
              _ref("NewToken"), status="201",
              body={"type": "object", "required": ["username", "password", "token_name"],
                    "properties": {"username": {"type": "string"},
                                   "password": {"type": "string"},
                                   "token_name": TOKEN_NAME, "expires_in_days": EXPIRY}}),
        "security": []}},
    "/tokens": {
        "get": _op("Your tokens (never their keys)", {"type": "array",
                                                      "items": _ref("Token")},
                   params=[AS_USER]),
        "post": _op("Create a named token; the response holds it, once", _ref("NewToken"),
                    status="201",
                    body={"type": "object", "required": ["name"], "properties": {
                        "name": TOKEN_NAME, "expires_in_days": EXPIRY,
                        "user": {"type": "string", "description": "superusers only"}}}),
    },
    "/tokens/{token}": {"delete": _op(
        "Revoke a token by name or prefix", {"type": "object"},
        params=[_path("token", "the token's name or prefix"), AS_USER])},
    "/users": {
        "get": _op("Every user (superusers only)", {"type": "array",
                                                    "items": _ref("User")}),
        "post": _op("Create a user (superusers only); the response holds its one-time "
                    "password", _ref("User"), status="201",
                    body={"type": "object", "required": ["username"], "properties": {
                        "username": {"type": "string",
                                     "pattern": "^[a-z][a-z0-9_.-]{0,39}$"},
                        "email": {"type": "string"}}}),
    },
    "/users/{username}": {"patch": _op(
        "Deactivate or reactivate a user (superusers only)", _ref("User"),
        params=[_path("username", "the user")],
        body={"type": "object", "required": ["is_active"],
              "properties": {"is_active": {"type": "boolean"}}})},
    "/nodes": {"get": _op("The machines apps run on, with the instances on each (superusers "
                          "only)", {"type": "array", "items": _ref("Node")})},
    "/nodes/join-command": {"get": _op(
        "The `docker swarm join` line a new worker runs (superusers only; swarm scheduler)",
        {"type": "object", "properties": {"command": {"type": "string"}}})},
}
ACCOUNT_SCHEMAS: dict[str, Any] = {
    "Token": {"type": "object", "properties": {
        "name": {"type": "string"}, "prefix": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"}}},
    "NewToken": {"type": "object", "properties": {
        "username": {"type": "string"}, "token": {"type": "string"}, "name": {"type": "string"},
        "prefix": {"type": "string"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"}}},
    "User": {"type": "object", "properties": {
        "username": {"type": "string"}, "email": {"type": "string"},
        "is_superuser": {"type": "boolean"}, "is_active": {"type": "boolean"},
        "password": {"type": "string", "description": "only when created: shown once"}}},
    "Node": {"type": "object", "properties": {
        "id": {"type": "string"}, "hostname": {"type": "string"},
        "role": {"type": "string", "enum": ["manager", "worker"]},
        "state": {"type": "string"}, "address": {"type": "string"},
        "availability": {"type": "string", "enum": ["active", "pause", "drain"]},
        "leader": {"type": "boolean"},
        "tasks": {"type": "array", "items": {"type": "string"},
                  "description": "what runs there, as <app>:<type>.<n>"}}},
}


def openapi_document(server_url: str) -> dict[str, Any]:
    """The API's OpenAPI description, with ``server_url`` as its base."""
    app = [NAME]
    return {
        "openapi": "3.1.0",
        "info": {"title": "paas API", "version": "1",
                 "description": "Every dashboard action and read. Authenticate with "
                                "'Authorization: Bearer <token>'. Errors are "
                                "{\"error\": {\"code\", \"message\"}} with a stable code."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/whoami": {"get": _op("The token's user", {"type": "object"})},
            **ACCOUNT_PATHS,
            "/apps": {
                "get": _op("Apps you own or collaborate on",
                           {"type": "array", "items": _ref("App")}),
                "post": _op("Create an app", _ref("App"), status="201",
                            body={"type": "object", "required": ["name"],
                                  "properties": {"name": {"type": "string"}}}),
            },
            "/apps/{name}": {
                "get": _op("One app, with its git remote, domains and collaborators",
                           _ref("App"), params=app),
                "delete": _op("Destroy the app: containers, route, repository, records "
                              "(owner only; 403 for collaborators)", params=app),
            },
            "/apps/{name}/config": {
                "get": _op("Config vars", STRING_MAP, params=app),
                "patch": _deploy_op("Set and unset config vars; makes and deploys a release",
                                    {"type": "object", "properties": {
                                        "config": STRING_MAP,
                                        "release": {"oneOf": [_ref("Release"),
                                                              {"type": "null"}]}}},
                                    params=app, body={"type": "object", "properties": {
                                        "set": STRING_MAP, "unset": STRINGS}}),
            },
            "/apps/{name}/formation": {
                "get": _op("Quantity and limits per process type, and the running instances",
                           _ref("Formation"), params=app),
                "patch": _deploy_op("Scale process types, e.g. {\"web\": 2}", _ref("Formation"),
                                    params=app, body={"type": "object", "additionalProperties": {
                                        "type": "integer", "minimum": 0, "maximum": 20}}),
            },
            "/apps/{name}/formation/{process_type}": {
                "patch": _deploy_op(
                    "Set the per-container memory and CPU limits of a process type; "
                    "running containers are replaced, no new release",
                    _ref("Formation"), params=[NAME, _path("process_type", "e.g. web")],
                    body={"type": "object", "properties": {
                        "memory": {"type": ["string", "null"], "examples": ["256m", "1g", ""],
                                   "description": "k/m/g, at least 6m; \"\" removes the "
                                                  "limit, null keeps it"},
                        "cpus": {"type": ["number", "string", "null"], "examples": [0.5, ""],
                                 "description": "CPUs; \"\" removes the limit, null keeps "
                                                "it"}}}),
            },
            "/apps/{name}/volumes": {
                "get": _op("Persistent volumes mounted into every container",
                           {"type": "array", "items": _ref("Volume")}, params=app),
                "post": _deploy_op("Mount a new persistent volume", _ref("Volume"),
                                   params=app, status="201",
                                   body={"type": "object", "required": ["name", "mount_path"],
                                         "properties": {"name": {"type": "string"},
                                                        "mount_path": {"type": "string",
                                                                       "examples": ["/data"]}}}),
            },
            "/apps/{name}/volumes/{volume}": {
                "delete": _deploy_op(
                    "Unmount a volume; with delete_data=1 its data is deleted too",
                    {"type": "object", "properties": {"removed": {"type": "string"},
                                                      "data_deleted": {"type": "boolean"}}},
                    params=[NAME, _path("volume", "the volume's name"),
                            {"name": "delete_data", "in": "query",
                             "schema": {"type": "boolean"}}]),
            },
            "/apps/{name}/build-cache": {
                "delete": _op("Purge the app's build cache: the next build reinstalls "
                              "dependencies (release images are kept, rollback still works)",
                              {"type": "object", "properties": {
                                  "removed": {"type": "integer",
                                              "description": "cache records removed"}}},
                              params=app),
            },
            "/apps/{name}/actions/{action_id}": {
                "get": _op("A deploy action's status and outcome (kept 24 hours)",
                           _ref("Action"), params=[NAME, ACTION_ID]),
            },
            "/apps/{name}/actions/{action_id}/log": {
                "get": _op("A deploy action's progress lines, streamed until it ends",
                           text=True, params=[NAME, ACTION_ID]),
            },
            "/apps/{name}/run": {
                "post": _op("Run a one-off command in a new container of the current release: "
                            "to its end (201, its output); in the background with detach=true "
                            "(202, the name of its output in the logs); or, sent with "
                            "'Connection: Upgrade' and 'Upgrade: paas-tty', on a terminal "
                            "(101, then the frames of paas/ttyframes.py both ways)",
                            {"type": "object", "properties": {
                                "exit_code": {"type": "integer"},
                                "output": {"type": "string"}}},
                            params=app, status="201", body=RUN_BODY),
            },
            "/apps/{name}/logs": {
                "get": _op("The app's output; streamed while follow=1", text=True, params=[
                    NAME,
                    {"name": "tail", "in": "query", "schema": {"type": "integer"}},
                    {"name": "follow", "in": "query", "schema": {"type": "boolean"}}]),
            },
            "/apps/{name}/releases": {
                "get": _op("Releases, newest first", {"type": "array",
                                                      "items": _ref("Release")}, params=app),
            },
            "/apps/{name}/rollback": {
                "post": _deploy_op("Release again the image and config of an old release",
                            _ref("Release"), params=app, status="201",
                            body={"type": "object", "required": ["version"], "properties": {
                                "version": {"type": ["string", "integer"],
                                            "examples": ["v3", 3]}}}),
            },
            "/apps/{name}/builds": {
                "get": _op("The latest 50 builds", {"type": "array", "items": _ref("Build")},
                           params=app),
            },
            "/apps/{name}/builds/{build_id}": {
                "get": _op("One build", _ref("Build"), params=[NAME, BUILD_ID]),
            },
            "/apps/{name}/builds/{build_id}/log": {
                "get": _op("The build's log; streamed live while the build runs", text=True,
                           params=[NAME, BUILD_ID]),
            },
            "/apps/{name}/builds/{build_id}/cancel": {
                "post": _op("Cancel a queued build, or one whose image is building "
                            "(status running until it stops; 400 build_deploying once the "
                            "image is built)", _ref("Build"), params=[NAME, BUILD_ID]),
            },
            "/apps/{name}/domains": {
                "get": _op("Custom domains", params=app),
                "post": _op("Route a domain to the app", params=app, status="201",
                            body={"type": "object", "required": ["hostname"],
                                  "properties": {"hostname": {"type": "string"}}}),
            },
            "/apps/{name}/domains/{hostname}": {
                "delete": _op("Stop routing a domain", params=[
                    NAME, _path("hostname", "the domain")]),
            },
            "/apps/{name}/collaborators": {
                "get": _op("Usernames who may see and change the app", STRINGS, params=app),
                "post": _op("Add a collaborator (owner only)", params=app, status="201",
                            body={"type": "object", "required": ["username"],
                                  "properties": {"username": {"type": "string"}}}),
            },
            "/apps/{name}/collaborators/{username}": {
                "delete": _op("Remove a collaborator (owner only)", params=[
                    NAME, _path("username", "the collaborator")]),
            },
            "/apps/{name}/links": {
                "get": _op("The apps this app's containers may reach ({links: [names]}); "
                           "without a link no app reaches another", params=app),
                "post": _op("Link to another app you can see: this app's containers join its "
                            "network and reach its web process as http://<app>:5000 "
                            "(redeploys this app)", params=app, status="201",
                            body={"type": "object", "required": ["app"],
                                  "properties": {"app": {"type": "string"}}}),
            },
            "/apps/{name}/links/{target}": {
                "delete": _op("Remove a link (redeploys this app)", params=[
                    NAME, _path("target", "the linked app")]),
            },
            **SERVICE_PATHS,
            **CERT_PATHS,
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **ACCOUNT_SCHEMAS,
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}}}}},
                "App": {"type": "object", "properties": {
                    "name": {"type": "string"}, "owner": {"type": "string"},
                    "status": {"enum": ["running", "deploying", "crashed", "stopped"]},
                    "url": {"type": "string"},
                    "current_release": {"type": ["string", "null"]},
                    "formation": {"type": "object",
                                  "additionalProperties": {"type": "integer"}},
                    "last_deploy_at": {"type": ["string", "null"], "format": "date-time"},
                    "crashed_at": {"type": ["string", "null"], "format": "date-time"},
                    "crash_reason": {"type": ["string", "null"],
                                     "description": "why the runtime marked it crashed"},
                    "git_remote": {"type": "string"},
                    "services": {"type": "array", "description": (
                        "GET /apps/{name} only: the backing services linked to it"),
                        "items": {"type": "object", "properties": {
                            "name": {"type": "string"}, "kind": {"type": "string"},
                            "status": {"type": "string"}}}}}},
                "Formation": {"type": "object", "properties": {
                    "formation": {"type": "object",
                                  "additionalProperties": {"type": "integer"}},
                    "resources": {"type": "object", "additionalProperties": {
                        "type": "object", "properties": {
                            "memory": {"type": ["string", "null"],
                                       "description": "set by ps:resize; null: the default"},
                            "cpus": {"type": ["number", "null"]},
                            "effective": {"type": "object", "description": (
                                "what each container gets: memory (PAAS_DEFAULT_MEMORY "
                                "unless resized), cpus (null: unlimited), pids "
                                "(PAAS_PIDS_LIMIT), read_only_rootfs"), "properties": {
                                "memory": {"type": "string"},
                                "cpus": {"type": ["number", "null"]},
                                "pids": {"type": "integer"},
                                "read_only_rootfs": {"type": "boolean"}}}}}},
                    "instances": {"type": "array", "items": {"type": "object"}}}},
                "Service": SERVICE_SCHEMA,
                "Backup": BACKUP_SCHEMA,
                "Certificate": CERTIFICATE_SCHEMA,
                "Volume": {"type": "object", "properties": {
                    "name": {"type": "string"}, "mount_path": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"}}},
                "Action": {"type": "object", "description": (
                    "A change that deploys (config, scale, rollback, resize, storage), run "
                    "by a worker"), "properties": {
                    "id": {"type": "string"},
                    "kind": {"enum": ["config", "scale", "rollback", "resize", "storage:add",
                                      "storage:remove"]},
                    "description": {"type": "string"},
                    "status": {"enum": ["queued", "running", "succeeded", "failed"]},
                    "release": {"type": ["string", "null"],
                                "description": "the release it made live, like v7"},
                    "error": {"oneOf": [{"type": "null"}, {
                        "type": "object", "properties": {"code": {"type": "string"},
                                                         "message": {"type": "string"}}}]},
                    "result": {"type": "object"},
                    "created_by": {"type": ["string", "null"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "finished_at": {"type": ["string", "null"], "format": "date-time"},
                    "url": {"type": "string"}, "log_url": {"type": "string"}}},
                "Release": {"type": "object", "properties": {
                    "version": {"type": "string"}, "number": {"type": "integer"},
                    "status": {"enum": ["pending", "deploying", "current", "superseded",
                                        "failed"]},
                    "description": {"type": "string"}, "image": {"type": "string"},
                    "config_keys": STRINGS, "created_by": {"type": ["string", "null"]},
                    "created_at": {"type": "string", "format": "date-time"}}},
                "Build": {"type": "object", "properties": {
                    "id": {"type": "integer"},
                    "status": {"enum": ["queued", "running", "succeeded", "failed",
                                        "cancelled"]},
                    "commit_sha": {"type": "string"}, "branch": {"type": "string"},
                    "builder": {"type": "string"}, "error_code": {"type": "string"},
                    "error_message": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"}}},
            },
        },
    }

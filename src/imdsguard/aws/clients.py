"""Clients for many credentials from one botocore session, each service's model and class
built once.

``Session.create_client`` takes its credentials from the session, and builds every client
from scratch: a new ``ServiceModel`` and a new client class, one method per operation
(about 750 for EC2, ~15 ms of CPU). An organization scan needs a client for each account
and Region, each with that account's credentials, so that cost was most of the CPU per
scope. ``ClientMaker`` does what ``Session.create_client`` (botocore 1.44) does, step for
step, with three differences: the credentials are given, ``ClientCreator``'s service
model and client class are built once per service and shared by all its clients, and the
clients' copies of the session's event emitter share one cache of aliased event names.
All are safe to share: the model is read-only but for memoised lookups (as when one client
is used from many threads, which botocore supports), the class's methods hold only their
operation's name, and the cache maps each name to its one alias (``_SharedAliases``).
``tests/test_clients.py`` holds the result to what botocore builds.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, cast

import botocore.client
import botocore.session
from botocore import retryhandler, translate
from botocore.config import Config
from botocore.context import get_context, start_as_current_context
from botocore.credentials import Credentials
from botocore.hooks import EventAliaser


class _SharedModelCreator(botocore.client.ClientCreator):
    """botocore's ClientCreator, taking each service's model and class from ``built``."""

    def __init__(self, *args: Any, built: dict[tuple[str, ...], Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._built = built

    def _load_service_model(self, service_name: str, api_version: str | None = None) -> Any:
        key = ("model", service_name, api_version or "")
        if key not in self._built:
            self._built[key] = super()._load_service_model(service_name, api_version)  # type: ignore[misc]
        return self._built[key]

    def _create_client_class(self, service_name: str, service_model: Any) -> Any:
        key = ("class", service_name, service_model.api_version)
        if key not in self._built:
            self._built[key] = super()._create_client_class(service_name, service_model)  # type: ignore[misc]
        return self._built[key]


class _SharedAliases(EventAliaser):
    """botocore's EventAliaser, whose copies (one per client) share its cache of aliased
    event names. Each copy of the stock one starts an empty cache, so every new client
    re-derived the alias of every event it registered or emitted, most of a short-lived
    client's event cost. The alias of a name depends only on the name and botocore's fixed
    ``EVENT_ALIASES``, so one cache serves all: a dict's get and set are atomic, and two
    threads deriving the same name store the same value."""

    def __copy__(self) -> _SharedAliases:
        # As EventAliaser.__copy__, but for the cache: the aliases table is never mutated.
        this: Any = self  # botocore's private attributes are untyped
        twin: Any = _SharedAliases(copy.copy(this._emitter), this._event_aliases)
        twin._alias_name_cache = this._alias_name_cache
        return cast(_SharedAliases, twin)


class ClientMaker:
    """Creates clients of one session, one Config and one endpoint, for any credentials.

    Thread-safe: creation is serialised, since it reads and updates the session's shared
    components (its config store and user-agent builder) and the shared models.
    """

    def __init__(
        self, session: botocore.session.Session, config: Config, endpoint_url: str | None
    ) -> None:
        self._session = session
        self._config = config
        self._endpoint_url = endpoint_url
        self._lock = threading.Lock()
        self._built: dict[tuple[str, ...], Any] = {}
        # The session's own handlers, live (the same emitter), behind the shared cache.
        emitter: Any = session.get_component("event_emitter")
        self._events = _SharedAliases(emitter._emitter, emitter._event_aliases)

    def create(self, service: str, region: str, credentials: Credentials | None) -> Any:
        """A client signing with ``credentials`` (``None``: the call fails unsigned, as
        botocore's does when the session has none)."""
        with self._lock, start_as_current_context():
            return self._create(service, region, credentials)

    def _create(self, service: str, region: str, credentials: Credentials | None) -> Any:
        # Session.create_client, less the branches this project never takes: explicit
        # keys, unsigned requests, a session-wide default Config.
        session: Any = self._session  # its private helpers are untyped
        context = get_context()
        assert context is not None  # set by create()
        session._resolve_region_name(region, self._config)  # validates, as botocore does
        api_version = session.get_config_variable("api_versions").get(service)
        config_store = copy.copy(session.get_component("config_store"))
        user_agent = session.get_component("user_agent_creator")
        user_agent.set_session_config(
            session_user_agent_name=session.user_agent_name,
            session_user_agent_version=session.user_agent_version,
            session_user_agent_extra=session.user_agent_extra,
        )
        defaults_mode = session._resolve_defaults_mode(self._config, config_store)
        if defaults_mode != "legacy":
            session._get_internal_component("smart_defaults_factory").merge_smart_defaults(
                config_store, defaults_mode, region
            )
        session._add_configured_endpoint_provider(client_name=service, config_store=config_store)
        user_agent.set_client_features(context.features)
        creator = _SharedModelCreator(
            session.get_component("data_loader"),
            session._get_internal_component("endpoint_resolver"),
            session.user_agent(),
            self._events,
            retryhandler,
            translate,
            session.get_component("response_parser_factory"),
            session._get_internal_component("exceptions_factory"),
            config_store,
            user_agent_creator=user_agent,
            auth_token_resolver=session.get_auth_token,
            built=self._built,
        )
        client = creator.create_client(
            service_name=service,
            region_name=region,
            is_secure=True,
            endpoint_url=self._endpoint_url,
            verify=session.get_config_variable("ca_bundle"),
            credentials=credentials,
            scoped_config=session.get_scoped_config(),
            api_version=api_version,
            client_config=self._config,
            auth_token=session.get_auth_token(),
        )
        monitor = session._get_internal_component("monitor")
        if monitor is not None:
            monitor.register(client.meta.events)
        session._register_client_plugins(client)
        return client
